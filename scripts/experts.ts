// `npm run experts -- add|remove --run RUN --domain KEY`: grow or shrink a DEMix run's domain experts
// (src/model/experts.ts). After `add`, train only the new expert with
// `npm run train -- --out RUN --resume --train-only-expert K`.
import { selectBackend } from '../src/backend/index.js';
import { backendFlag, COMMON_FLAGS, parseCommandLine, runMain, type CommandSpec } from '../src/cli/index.js';
import { HyperlmError } from '../src/errors.js';
import { addExpert, removeExpert } from '../src/model/index.js';

const spec: CommandSpec = {
  usage: 'npm run experts -- add|remove --run RUN --domain KEY',
  summary:
    'DEMix runs: `add` creates an expert for data domain KEY, initialised from the existing expert with the\n' +
    "lowest validation loss on KEY's data; `remove` drops KEY's expert without retraining. Rewrites the latest checkpoint.",
  positionals: true,
  flags: {
    run: { type: 'string', arg: 'RUN', help: 'training run folder (router demix)' },
    domain: { type: 'string', arg: 'KEY', help: 'domain key as in the data\'s manifest.json "domains"' },
    backend: COMMON_FLAGS.backend,
  },
};

runMain(async () => {
  const { values, positionals } = parseCommandLine(spec);
  const action = positionals[0];
  if (action !== 'add' && action !== 'remove')
    throw new HyperlmError('CLI_BAD_FLAG', `first argument must be add or remove, got ${JSON.stringify(action ?? '')}`);
  if (typeof values.run !== 'string') throw new HyperlmError('CLI_BAD_FLAG', '--run RUN is required');
  if (typeof values.domain !== 'string') throw new HyperlmError('CLI_BAD_FLAG', '--domain KEY is required');
  await selectBackend(backendFlag(values), (l) => console.error(l));
  if (action === 'add') {
    const r = await addExpert(values.run, values.domain, (l) => console.error(l));
    console.log(
      `added expert ${r.expert} for ${values.domain} (copied from expert ${r.copiedFrom}); train it with: ` +
        `npm run train -- --out ${values.run} --resume --train-only-expert ${r.expert} --set steps=N`,
    );
  } else {
    const r = await removeExpert(values.run, values.domain);
    console.log(`removed expert ${r.removed} (${values.domain}) from ${values.run}`);
  }
});
