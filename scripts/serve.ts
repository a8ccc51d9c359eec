// `npm run serve`: the infill backend for editors (src/serve). Parses flags into a ServeConfig, picks the
// model folder (--run, else data/model, else the newest run in runs/), starts the server — which listens at
// once and answers /health with 503 until the model is loaded — and shuts it down on SIGTERM/SIGINT:
// no new connections, in-flight requests finish within --shutdown-grace-ms or are cancelled, exit 0.
import { fileURLToPath } from 'node:url';
import { selectBackend } from '../src/backend/index.js';
import {
  backendFlag,
  COMMON_FLAGS,
  choiceFlag,
  numberFlag,
  parseCommandLine,
  runMain,
  type CommandSpec,
} from '../src/cli/index.js';
import { HyperlmError } from '../src/errors.js';
import {
  defaultModelPath,
  InfillServer,
  loadServedModel,
  PROTOCOLS,
  resolveServeConfig,
  SERVE_DEFAULTS,
} from '../src/serve/index.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const d = SERVE_DEFAULTS;

const spec: CommandSpec = {
  usage:
    'npm run serve -- [--run RUN|BUNDLE] [--host 127.0.0.1] [--port 8012] [--api-key KEY] [--parallel N] [options]',
  summary:
    'An InCoder-style code infill server for editors, speaking the llama.cpp (llama.vim, llama.vscode), OpenAI\n' +
    '(/v1/completions with suffix) and Ollama (/api/generate with suffix) protocols on one port.',
  flags: {
    run: {
      type: 'string',
      arg: 'RUN|BUNDLE',
      help: 'training run folder or model bundle',
      default: 'data/model, else the newest run in runs/',
    },
    host: { type: 'string', arg: 'ADDR', help: 'address to bind (loopback: only this machine)', default: d.host },
    port: { type: 'string', arg: 'N', help: 'TCP port (0 = any free port)', default: String(d.port) },
    'api-key': { type: 'string', arg: 'KEY', help: 'require Authorization: Bearer KEY on every route but /health' },
    cors: {
      type: 'string',
      arg: 'ORIGIN',
      multiple: true,
      help: 'allow browser requests from this origin (e.g. http://localhost:3000)',
      default: 'none',
    },
    parallel: {
      type: 'string',
      arg: 'N',
      help: 'slots: requests decoded together, each with its own prompt cache',
      default: String(d.parallel),
    },
    ctx: {
      type: 'string',
      arg: 'N',
      help: "context tokens per slot (0 = the model's blockSize)",
      default: String(d.ctx),
    },
    'max-predict': {
      type: 'string',
      arg: 'N',
      help: 'largest n_predict / max_tokens / num_predict a request may ask for',
      default: String(d.maxPredict),
    },
    'max-queue': {
      type: 'string',
      arg: 'N',
      help: 'requests waiting for a slot; beyond, 503 with Retry-After',
      default: String(d.maxQueue),
    },
    'max-body-bytes': {
      type: 'string',
      arg: 'N',
      help: 'larger request bodies get 413',
      default: String(d.maxBodyBytes),
    },
    'headers-timeout-ms': {
      type: 'string',
      arg: 'MS',
      help: 'time a client has to send its headers',
      default: String(d.headersTimeoutMs),
    },
    'body-timeout-ms': {
      type: 'string',
      arg: 'MS',
      help: 'time a client has to send its body (408 after)',
      default: String(d.bodyTimeoutMs),
    },
    'shutdown-grace-ms': {
      type: 'string',
      arg: 'MS',
      help: 'on SIGTERM/SIGINT, time in-flight requests get before they are cancelled',
      default: String(d.shutdownGraceMs),
    },
    'infill-mode': {
      type: 'string',
      arg: 'multi-line|single-line|left-to-right',
      help: 'prompt shape for infill requests',
      default: d.infillMode,
    },
    language: {
      type: 'string',
      arg: 'LANG',
      help: 'language named in the file header when a request names no file (e.g. typescript)',
      default: 'no header',
    },
    backend: COMMON_FLAGS.backend,
  },
  epilog:
    'Protocols:\n' +
    PROTOCOLS.map((p) => `  ${p}`).join('\n') +
    '\nLogs: one JSON line per request on stdout (route, status, ms, prompt/cached/predicted tokens, stop).\n' +
    'Example (llama.vim): npm run serve -- --run runs/tiny   then   let g:llama_config.endpoint = "http://127.0.0.1:8012/infill"',
};

runMain(async () => {
  const { values } = parseCommandLine(spec);
  const int = (name: string, fallback: number) => numberFlag(values, name, fallback, { integer: true, min: 0 });
  const config = resolveServeConfig({
    host: typeof values.host === 'string' ? values.host : d.host,
    port: int('port', d.port),
    apiKey: typeof values['api-key'] === 'string' ? values['api-key'] : undefined,
    cors: (values.cors as string[] | undefined) ?? [],
    parallel: int('parallel', d.parallel),
    ctx: int('ctx', d.ctx),
    maxPredict: int('max-predict', d.maxPredict),
    maxQueue: int('max-queue', d.maxQueue),
    maxBodyBytes: int('max-body-bytes', d.maxBodyBytes),
    headersTimeoutMs: int('headers-timeout-ms', d.headersTimeoutMs),
    bodyTimeoutMs: int('body-timeout-ms', d.bodyTimeoutMs),
    shutdownGraceMs: int('shutdown-grace-ms', d.shutdownGraceMs),
    infillMode: choiceFlag(
      values,
      'infill-mode',
      ['multi-line', 'single-line', 'left-to-right'] as const,
      d.infillMode,
    ),
    language: typeof values.language === 'string' ? values.language : undefined,
  });
  await selectBackend(backendFlag(values), (l) => console.error(l));
  const path = await defaultModelPath(REPO, typeof values.run === 'string' ? values.run : undefined);
  const server = await InfillServer.start({ config, load: () => loadServedModel(path) });
  console.error(`hyperlm serve: ${server.url} (loading ${path})\n${PROTOCOLS.map((p) => `  ${p}`).join('\n')}`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.error(`${signal}: closing (in-flight requests get ${config.shutdownGraceMs} ms)`);
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  await server.ready;
  const ctx = server.context;
  if (!ctx) {
    await server.close(0);
    throw new HyperlmError(
      'INPUT_UNREADABLE',
      `the model in ${path} could not be loaded (see the load_failed line above)`,
    );
  }
  console.error(
    `ready: ${ctx.served.name} (${ctx.served.kind}${ctx.served.step !== undefined ? `, step ${ctx.served.step}` : ''}), context ${ctx.ctx}, ${config.parallel} slots`,
  );
});
