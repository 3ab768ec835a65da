// `node --import tsx bench/tools/heap-diff.ts before.heapsnapshot after.heapsnapshot [per=4000] [top=40]`: what grew
// between two V8 heap snapshots, by node type and constructor name (self sizes), divided by `per` (e.g. the number
// of sockets opened in between) to read as bytes per socket.
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
}

function tally(file: string): Map<string, { count: number; size: number }> {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const stride = fields.length;
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const types = snap.snapshot.meta.node_types[0];
  const out = new Map<string, { count: number; size: number }>();
  for (let i = 0; i < snap.nodes.length; i += stride) {
    const type = types[snap.nodes[i + typeAt!]!]!;
    let name = snap.strings[snap.nodes[i + nameAt!]!]!;
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string') name = '';
    if (name.length > 60) name = name.slice(0, 60);
    const key = `${type} ${name}`;
    const t = out.get(key) ?? { count: 0, size: 0 };
    t.count++;
    t.size += snap.nodes[i + sizeAt!]!;
    out.set(key, t);
  }
  return out;
}

const [a, b, perArg, topArg] = process.argv.slice(2);
const per = Number(perArg ?? 4000);
const top = Number(topArg ?? 40);
const before = tally(a!);
const after = tally(b!);
const rows = [...after].map(([k, v]) => {
  const p = before.get(k) ?? { count: 0, size: 0 };
  return { k, count: (v.count - p.count) / per, bytes: (v.size - p.size) / per };
});
rows.sort((x, y) => y.bytes - x.bytes);
const total = rows.reduce((s, r) => s + r.bytes, 0);
console.log(`total growth ${total.toFixed(0)} B per unit`);
for (const r of rows.slice(0, top))
  console.log(`${r.bytes.toFixed(0).padStart(7)} B  ${r.count.toFixed(2).padStart(7)} x  ${r.k}`);
