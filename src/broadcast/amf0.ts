/** The AMF0 values an RTMP publisher exchanges with an ingest server (commands and their answers). */
export type Amf = number | boolean | string | null | undefined | Amf[] | { [key: string]: Amf };

const OBJECT_END = Buffer.from([0x00, 0x00, 0x09]);

function encodeString(s: string): Buffer {
  const text = Buffer.from(s, 'utf8');
  const head = Buffer.alloc(2);
  head.writeUInt16BE(text.length);
  return Buffer.concat([head, text]);
}

function encodeValue(v: Amf): Buffer[] {
  if (typeof v === 'number') {
    const b = Buffer.alloc(9);
    b.writeDoubleBE(v, 1);
    return [b];
  }
  if (typeof v === 'boolean') return [Buffer.from([0x01, v ? 1 : 0])];
  if (typeof v === 'string') return [Buffer.from([0x02]), encodeString(v)];
  if (v === null) return [Buffer.from([0x05])];
  if (v === undefined) return [Buffer.from([0x06])];
  if (Array.isArray(v)) {
    const head = Buffer.alloc(5);
    head[0] = 0x0a;
    head.writeUInt32BE(v.length, 1);
    return [head, ...v.flatMap(encodeValue)];
  }
  return [Buffer.from([0x03]), ...Object.entries(v).flatMap(([k, x]) => [encodeString(k), ...encodeValue(x)]), OBJECT_END];
}

/** The AMF0 encoding of a sequence of values (a command: its name, transaction id, arguments). */
export function encodeAmf0(values: Amf[]): Buffer {
  return Buffer.concat(values.flatMap(encodeValue));
}

/** Reads AMF0 values one after the other; throws on a type an ingest server has no reason to send. */
class Amf0Reader {
  private o = 0;
  constructor(private readonly b: Buffer) {}

  get done(): boolean {
    return this.o >= this.b.length;
  }

  private take(n: number): Buffer {
    if (this.o + n > this.b.length) throw new Error('AMF0 value cut short');
    const out = this.b.subarray(this.o, this.o + n);
    this.o += n;
    return out;
  }

  private key(): string {
    return this.take(this.take(2).readUInt16BE()).toString('utf8');
  }

  private properties(): { [key: string]: Amf } {
    const out: { [key: string]: Amf } = Object.create(null) as { [key: string]: Amf };
    for (;;) {
      const k = this.key();
      if (k === '' && this.b[this.o] === 0x09) return (this.o++, out);
      out[k] = this.value();
    }
  }

  value(): Amf {
    const type = this.take(1)[0];
    switch (type) {
      case 0x00: return this.take(8).readDoubleBE();
      case 0x01: return this.take(1)[0] !== 0;
      case 0x02: return this.key();
      case 0x03: return this.properties();
      case 0x05: return null;
      case 0x06: return undefined;
      case 0x08: return (this.take(4), this.properties()); // ECMA array: a count hint, then properties
      case 0x0a: return Array.from({ length: this.take(4).readUInt32BE() }, () => this.value());
      case 0x0b: return (this.take(2 + 8).readDoubleBE(0)); // date: ms, then an unused time zone
      case 0x0c: return this.take(this.take(4).readUInt32BE()).toString('utf8');
      default: throw new Error(`AMF0 type ${type} not supported`);
    }
  }
}

/** Every value of an AMF0 message, in order. */
export function decodeAmf0(b: Buffer): Amf[] {
  const r = new Amf0Reader(b);
  const out: Amf[] = [];
  while (!r.done) out.push(r.value());
  return out;
}
