// Language identification (src/filter/language.ts, eld/small) and the `--languages` filter in the
// pipeline: pages in other languages are skipped as DOC_LANGUAGE and reported as the `language` filter
// step, pages too short to tell are `und` and kept, every detected language is counted in the manifest and recorded in the sidecar (`lang`), and
// code documents are exempt. The expected languages are hand-labelled sentences (manual-page prose).
import test from 'ava';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ELD_LANGUAGES, loadLanguageDetector, parseLanguages } from '../src/filter/language.js';
import { preprocess } from '../src/pipeline/preprocess.js';
import { readSidecar } from '../src/shards/sidecar.js';
import { smallInput, tempDir, tinyConfig } from './helpers/fixtures.js';

const PROSE: Record<string, string> = {
  en: 'This manual describes how to configure the server and which options are available. The settings are saved when you close the window.',
  de: 'Dieses Handbuch beschreibt, wie der Server konfiguriert wird und welche Optionen es gibt. Die Einstellungen werden beim Schließen gespeichert.',
  fr: 'Ce manuel décrit comment configurer le serveur et quelles options sont disponibles. Les paramètres sont enregistrés à la fermeture.',
  es: 'Este manual describe cómo configurar el servidor y qué opciones están disponibles. La configuración se guarda al cerrar la ventana.',
  ru: 'В этом руководстве описано, как настроить сервер и какие параметры доступны. Настройки сохраняются при закрытии окна.',
  ja: 'このマニュアルでは、サーバーの設定方法と利用可能なオプションについて説明します。設定はウィンドウを閉じると保存されます。',
  zh: '本手册介绍如何配置服务器以及有哪些可用选项。关闭窗口时会保存设置。',
};

test('eld/small names the language of manual prose in seven languages', async (t) => {
  const detect = await loadLanguageDetector();
  for (const [lang, text] of Object.entries(PROSE)) t.is(detect(text), lang, text);
  t.is(detect('1234 5678 !!!'), 'und');
  t.is(detect('Chapter 71. BRIN Indexes'), 'und', 'a title alone is too short to tell');
});

test('--languages parses all or a list of codes the detector knows; an unknown code names itself', async (t) => {
  t.is(parseLanguages('all'), 'all');
  t.deepEqual(parseLanguages('en, DE,en'), ['de', 'en']);
  t.throws(() => parseLanguages('en,xx'), { message: /"xx" is not an ISO 639-1 code/ });
  const { eld } = await import('eld/small');
  t.deepEqual([...ELD_LANGUAGES].sort(), Object.values(eld.info().Languages as Record<string, string>).sort());
});

test('--languages en,de keeps English and German pages and all code; the rest is DOC_LANGUAGE, counted and recorded', async (t) => {
  const input = smallInput(0, 2);
  mkdirSync(join(input, 'pages'));
  const page = (text: string): string => `<html><body><h1>Manual</h1><p>${`${text} `.repeat(8)}</p></body></html>`;
  // A stub whose text is a title: undetermined, kept.
  const stub = JSON.stringify({
    url: 'https://ex.com/stub',
    html: `<html><body><h1>Chapter 71. BRIN Indexes</h1><p>${'<b>·</b>'.repeat(3)}</p></body></html>`,
  });
  writeFileSync(
    join(input, 'pages', 'site.jsonl'),
    [
      ...Object.entries(PROSE).map(([lang, text]) =>
        JSON.stringify({ url: `https://ex.com/${lang}`, html: page(text) }),
      ),
      stub,
    ].join('\n'),
  );
  const tokOut = tempDir('lang-tok');
  await preprocess(tinyConfig([input], tokOut, { workers: 0, vocabSize: 900 }));
  const out = tempDir('lang');
  const m = await preprocess(
    tinyConfig([input], out, {
      tokenizer: join(tokOut, 'tokenizer.model'),
      languages: ['de', 'en'],
      validFraction: 0,
      workers: 2,
    }),
  );
  t.is(m.documents.in, 10);
  t.is(m.documents.out, 5, JSON.stringify(m.skipped));
  t.is(m.skipped.DOC_LANGUAGE, 5);
  t.deepEqual(m.languages, { de: 1, en: 1, es: 1, fr: 1, ja: 1, ru: 1, und: 1, zh: 1 });
  t.is(m.filters.language.documents, 5);
  t.true(m.filters.language.chars > 5 * 8 * 40, JSON.stringify(m.filters.language));
  const side = (await Promise.all(m.shards.map((s) => readSidecar(join(out, s.name))))).flat();
  t.deepEqual(
    side
      .filter((r) => r.kind === 'html')
      .map((r) => r.lang)
      .sort(),
    ['de', 'en', 'und'],
  );
  t.true(side.filter((r) => r.kind === 'code').every((r) => r.lang === undefined));
  t.is(side.filter((r) => r.kind === 'code' && r.part === 0).length, 2, 'code documents are exempt');
});
