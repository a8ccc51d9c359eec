// resolveImageSource against a real temp folder: relative paths, <base href>, percent-encoding,
// data: URIs, carried WARC/JSONL images by absolute URL, and every way out of the root
// (`..`, absolute paths, file: URLs, encoded slashes, symlinks) — each gives bytes or a drop, never a throw.

import test from 'ava';
import { mkdtemp, mkdir, rm, writeFile, symlink, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { resolveImageSource, type ResolvedImage } from '../src/data/image-resolve.js';

let base: string;
let root: string;
let page: { root: string; filePath: string };

test.before(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'hyperlm-resolve-'));
  root = path.join(base, 'root');
  await mkdir(path.join(root, 'site', 'img'), { recursive: true });
  await mkdir(path.join(root, 'site', 'sub'), { recursive: true });
  await mkdir(path.join(root, 'img'), { recursive: true });
  await writeFile(path.join(root, 'site', 'index.html'), '<img src="img/a.png">');
  await writeFile(path.join(root, 'site', 'img', 'a.png'), 'A');
  await writeFile(path.join(root, 'site', 'img', 'with space é.png'), 'SPACE');
  await writeFile(path.join(root, 'site', 'sub', 'b.png'), 'B');
  await writeFile(path.join(root, 'img', 'top.png'), 'TOP');
  await writeFile(path.join(base, 'secret.png'), 'SECRET');
  await symlink(path.join(base, 'secret.png'), path.join(root, 'site', 'evil.png'));
  await symlink('/etc', path.join(root, 'site', 'etc-link'));
  await symlink(path.join(root, 'img', 'top.png'), path.join(root, 'site', 'good.png'));
  page = { root, filePath: path.join(root, 'site', 'index.html') };
});

test.after.always(async () => {
  await rm(base, { recursive: true, force: true });
});

function text(r: ResolvedImage): string {
  return 'bytes' in r ? Buffer.from(r.bytes).toString('utf8') : `drop:${r.drop}`;
}

test('relative, site-absolute, percent-encoded and <base href> paths resolve inside the root', async (t) => {
  t.is(text(await resolveImageSource('img/a.png', page)), 'A');
  t.is(text(await resolveImageSource('  ./img/../img/a.png#frag ', page)), 'A');
  t.is(text(await resolveImageSource('img/with%20space%20%C3%A9.png', page)), 'SPACE');
  t.is(text(await resolveImageSource('img/with space é.png', page)), 'SPACE');
  t.is(text(await resolveImageSource('img\\a.png', page)), 'A', 'backslash is a separator, as in browsers');
  t.is(text(await resolveImageSource('/img/top.png', page)), 'TOP', 'site-absolute means the input root');
  t.is(text(await resolveImageSource('b.png', { ...page, baseHref: 'sub/' })), 'B');
  t.is(text(await resolveImageSource('top.png', { ...page, baseHref: '/img/' })), 'TOP');
  t.is(text(await resolveImageSource('good.png', page)), 'TOP', 'a symlink inside the root is fine');
});

test('missing files and directories drop as missing', async (t) => {
  t.is(text(await resolveImageSource('img/nope.png', page)), 'drop:missing');
  t.is(text(await resolveImageSource('img', page)), 'drop:missing');
  t.is(text(await resolveImageSource('', page)), 'drop:missing');
  t.is(text(await resolveImageSource('img/%E0%A4%A.png', page)), 'drop:missing', 'bad percent-encoding');
});

test('nothing outside the root is ever read', async (t) => {
  // `..` past the root is clamped at the root (URL rules), so these look inside the root and miss.
  for (const src of ['../../../../etc/passwd', '/etc/passwd', '../../secret.png', '/../secret.png']) {
    const r = await resolveImageSource(src, page);
    t.true('drop' in r && r.drop === 'missing' && r.detail.startsWith(root), `${src}: ${JSON.stringify(r)}`);
  }
  for (const src of ['file:///etc/passwd', 'FILE:///etc/passwd', `file://${path.join(base, 'secret.png')}`]) {
    t.is(text(await resolveImageSource(src, page)), 'drop:outside-root', src);
  }
  // Encoded separators survive URL parsing and only become `..` after decoding: caught lexically.
  t.is(text(await resolveImageSource('..%2F..%2F..%2Fsecret.png', page)), 'drop:outside-root');
  t.is(text(await resolveImageSource('%2E%2E/%2E%2E/%2E%2E/secret.png', page)), 'drop:missing');
  // Symlinks escaping the root: caught by the realpath check.
  t.is(text(await resolveImageSource('evil.png', page)), 'drop:outside-root');
  t.is(text(await resolveImageSource('etc-link/passwd', page)), 'drop:outside-root');
  t.is(text(await resolveImageSource('evil.png', { ...page, baseHref: 'file:///' })), 'drop:outside-root');
});

test('data: URIs decode (base64 and percent) or drop as bad-data-uri', async (t) => {
  const png = await readFile(path.join(root, 'site', 'img', 'a.png'));
  t.is(text(await resolveImageSource(`data:image/png;base64,${png.toString('base64')}`, page)), 'A');
  t.is(text(await resolveImageSource('data:image/png;base64,QU\n JD', {})), 'ABC', 'whitespace in base64 is ignored');
  t.is(text(await resolveImageSource('data:,hello%20world', {})), 'hello world');
  t.is(text(await resolveImageSource('data:image/png;base64,***', {})), 'drop:bad-data-uri');
  t.is(text(await resolveImageSource('data:image/png;base64', {})), 'drop:bad-data-uri');
  t.is(text(await resolveImageSource('data:image/png;base64,', {})), 'drop:bad-data-uri');
  t.is(text(await resolveImageSource('data:,%ZZ', {})), 'drop:bad-data-uri');
});

test('http(s) images come only from the carried map; others are remote, odd schemes unsupported', async (t) => {
  const images = { 'https://ex.com/a/i.png': new Uint8Array([1]), 'https://cdn.ex.com/x.png': new Uint8Array([2]) };
  const remote = { url: 'https://ex.com/a/page.html', images };
  const got = async (src: string, p: object) => {
    const r = await resolveImageSource(src, p);
    return 'bytes' in r ? `bytes:${r.bytes[0]}` : `drop:${r.drop}`;
  };
  t.is(await got('i.png', remote), 'bytes:1');
  t.is(await got('/a/i.png#x', remote), 'bytes:1');
  t.is(await got('HTTPS://EX.COM/a/i.png', remote), 'bytes:1', 'scheme and host are case-normalised');
  t.is(await got('x.png', { ...remote, baseHref: 'https://cdn.ex.com/' }), 'bytes:2');
  t.is(await got('//cdn.ex.com/y.png', remote), 'drop:remote');
  t.is(
    await got('img/a.png', { ...page, baseHref: 'https://ex.com/' }),
    'drop:remote',
    'a local page with a remote base',
  );
  t.is(await got('img/a.png', {}), 'drop:missing', 'no base to resolve against');
  t.is(await got('javascript:alert(1)', remote), 'drop:unsupported-scheme');
  t.is(await got('blob:https://ex.com/1', remote), 'drop:unsupported-scheme');
  t.is(await got('/etc/passwd', remote), 'drop:remote', 'on a web page, /etc/passwd is just a URL');
});

test('local files over maxBytes are not read', async (t) => {
  t.is(text(await resolveImageSource('img/a.png', page, { maxBytes: 0 })), 'drop:too-large');
});
