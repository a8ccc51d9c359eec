// `npm run vqgan:reconstruct`: original | reconstruction PNGs for the given images (or image folders).
import { backendFlag, COMMON_FLAGS, parseCommandLine, runMain, type CommandSpec } from '../src/cli/index.js';
import { selectBackend } from '../src/backend/index.js';
import { HyperlmError } from '../src/errors.js';
import { listImageFiles, loadVqgan, writeReconstructions } from '../src/vqgan/index.js';

const spec: CommandSpec = {
  usage: 'npm run vqgan:reconstruct -- --run DIR IMG... --out DIR',
  summary:
    'Encode each image with a trained VQGAN (run folder or bundle such as data/vqgan), decode it back, and\n' +
    "write OUT/NNN-NAME.recon.png: the original (centre-cropped to the tokenizer's size) left, the reconstruction right.",
  positionals: true,
  flags: {
    run: { type: 'string', arg: 'DIR', help: 'VQGAN run folder or bundle', default: 'data/vqgan' },
    out: { type: 'string', arg: 'DIR', help: 'output folder', default: 'out/vqgan-reconstruct' },
    backend: COMMON_FLAGS.backend,
  },
};

runMain(async () => {
  const { values, positionals } = parseCommandLine(spec);
  if (positionals.length === 0) throw new HyperlmError('CLI_BAD_FLAG', 'give at least one image file or folder');
  await selectBackend(backendFlag(values), (l) => console.error(l));
  const model = await loadVqgan((values.run as string | undefined) ?? 'data/vqgan');
  const { written, dropped } = await writeReconstructions(
    model,
    await listImageFiles(positionals),
    (values.out as string | undefined) ?? 'out/vqgan-reconstruct',
  );
  for (const w of written)
    console.log(`${w.png}  PSNR ${w.psnr.toFixed(2)} dB  SSIM ${w.ssim.toFixed(3)}  (${w.source})`);
  if (Object.keys(dropped).length > 0) console.log(`skipped: ${JSON.stringify(dropped)}`);
});
