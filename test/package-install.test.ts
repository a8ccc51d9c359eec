// hyperlm as others get it: `npm pack` of this checkout, installed into an empty project from the tarball
// (dependencies from the npm cache where present), then `npx hyperlm --help`, a subcommand's --help, and the
// README's library example importing from 'hyperlm'. Checks that the tarball ships dist/ and the bundled
// models but not the tests or the sample corpus, and that every npm script is a `hyperlm` subcommand.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { SUBCOMMANDS } from '../src/cli/main.js';
import { REPO, smallInput, tempDir } from './helpers/fixtures.js';
import { writeReadmeExample } from './helpers/readme-example.js';

const npm = (args: string[], cwd: string) =>
  execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });

test('every npm script that runs scripts/X.js is a hyperlm subcommand running the same script', (t) => {
  const scripts = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> })
    .scripts;
  const runs = Object.entries(scripts).flatMap(([name, cmd]) => {
    const m = /^node dist\/scripts\/([\w-]+)\.js$/.exec(cmd);
    return m ? [[name, m[1]] as const] : [];
  });
  t.true(runs.length >= 15);
  for (const [name, script] of runs) t.is(SUBCOMMANDS[name]?.script, script, `npm run ${name}`);
});

test.serial('the packed package installs; npx hyperlm and the README library example run from it', (t) => {
  const dir = tempDir('pack');
  const tarball = join(
    dir,
    npm(['pack', '--ignore-scripts', '--pack-destination', dir, '--silent'], REPO).trim().split('\n').pop()!,
  );
  const listing = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n');
  t.true(listing.includes('package/dist/src/index.js'));
  t.true(listing.includes('package/dist/src/cli/main.js'));
  t.true(listing.includes('package/data/vqgan/model.safetensors'));
  t.false(
    listing.some(
      (f) =>
        f.startsWith('package/dist/test/') || f.startsWith('package/test/') || f.startsWith('package/data/sample/'),
    ),
  );

  const app = join(dir, 'app');
  execFileSync('mkdir', ['-p', app]);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  npm(['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball], app);

  const help = execFileSync('npx', ['hyperlm', '--help'], { cwd: app, encoding: 'utf8' });
  t.regex(help, /Subcommands:/);
  for (const name of ['preprocess', 'train', 'generate', 'eval', 'serve'])
    t.regex(help, new RegExp(`^  ${name} `, 'm'));
  t.regex(
    execFileSync('npx', ['hyperlm', 'train', '--help'], { cwd: app, encoding: 'utf8' }),
    /^Usage: hyperlm train /,
  );

  const paths = { input: smallInput(4, 4), out: join(dir, 'data'), run: join(dir, 'run') };
  const example = writeReadmeExample(app, paths);
  const stdout = execFileSync(process.execPath, [example], {
    cwd: app,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 240_000,
  });
  t.is(stdout, ''); // the example reports on stderr
  t.true(JSON.parse(readFileSync(join(paths.run, 'checkpoints', 'latest.json'), 'utf8')).step === 4);
});
