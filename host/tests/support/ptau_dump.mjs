// Prints the first G1 powers and the first two G2 powers of a .ptau file as affine decimal
// coordinates, read by snarkjs's own code (the reference for zkedge's reader).
import * as binFileUtils from "@iden3/binfileutils";
import { readPTauHeader } from "./node_modules/snarkjs/src/powersoftau_utils.js";
const [file, n] = process.argv.slice(2);
const { fd, sections } = await binFileUtils.readBinFile(file, "ptau", 1);
const { curve, power } = await readPTauHeader(fd, sections);
async function points(G, sec, count) {
  await binFileUtils.startReadUniqueSection(fd, sections, sec);
  const out = [];
  for (let i = 0; i < count; i++) {
    const p = G.toAffine(G.fromRprLEM(await fd.read(G.F.n8 * 2), 0));
    out.push(G.toObject(p).slice(0, 2).map(c => (Array.isArray(c) ? c.map(String) : String(c))));
  }
  await binFileUtils.endReadSection(fd, true);
  return out;
}
const g1 = await points(curve.G1, 2, Number(n));
const g2 = await points(curve.G2, 3, 2);
console.log(JSON.stringify({ power, g1, g2 }));
await fd.close();
await curve.terminate();
