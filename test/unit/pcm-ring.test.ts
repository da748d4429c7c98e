import { PcmRing } from '../../src/avatar/pcm-ring';

const chunk = (values: number[]) => {
  const b = Buffer.alloc(values.length * 2);
  values.forEach((v, i) => b.writeInt16LE(v, i * 2));
  return b;
};

describe('PcmRing: the speech handed to the encoder, by due time', () => {
  it('gives the samples due in a window, across chunks, and none where nothing was handed over', () => {
    const ring = new PcmRing(1000); // one sample per ms
    ring.push(chunk([1, 2, 3, 4]), 100);
    ring.push(chunk([5, 6, 7, 8]), 104);
    expect([...ring.window(102, 106)]).toEqual([3, 4, 5, 6]);
    expect([...ring.window(200, 240)]).toEqual([]);
  });
  it('keeps a copy (the pump reuses and mixes into its buffer) and forgets old chunks', () => {
    const ring = new PcmRing(1000, 50);
    const b = chunk([9, 9]);
    ring.push(b, 0);
    b.fill(0);
    expect([...ring.window(0, 2)]).toEqual([9, 9]);
    ring.push(chunk([1]), 100);
    expect([...ring.window(0, 2)]).toEqual([]);
  });
});
