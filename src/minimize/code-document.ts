// Source files as training documents (InCoder §2: code with its file metadata up front).
// The sibling minimize.ts handles HTML pages; code is kept byte-for-byte, only a header is added
// (its format is documented at codeDocumentText, which writes it).

import { HyperlmError } from '../errors.js';

/** Extension (lowercase, with dot) → language name. */
export const LANGUAGE_BY_EXTENSION: Readonly<Record<string, string>> = {
  '.js': 'javascript',
  '.mjs': 'javascript',
  '.cjs': 'javascript',
  '.jsx': 'javascript',
  '.ts': 'typescript',
  '.mts': 'typescript',
  '.cts': 'typescript',
  '.tsx': 'typescript',
  '.py': 'python',
  '.pyi': 'python',
  '.go': 'go',
  '.rs': 'rust',
  '.java': 'java',
  '.kt': 'kotlin',
  '.scala': 'scala',
  '.swift': 'swift',
  '.c': 'c',
  '.h': 'c',
  '.cpp': 'cpp',
  '.cc': 'cpp',
  '.cxx': 'cpp',
  '.hpp': 'cpp',
  '.hh': 'cpp',
  '.cs': 'csharp',
  '.css': 'css',
  '.scss': 'scss',
  '.less': 'less',
  '.html': 'html',
  '.htm': 'html',
  '.json': 'json',
  '.yaml': 'yaml',
  '.yml': 'yaml',
  '.toml': 'toml',
  '.xml': 'xml',
  '.md': 'markdown',
  '.rst': 'restructuredtext',
  '.sh': 'shell',
  '.bash': 'shell',
  '.zsh': 'shell',
  '.rb': 'ruby',
  '.php': 'php',
  '.pl': 'perl',
  '.lua': 'lua',
  '.r': 'r',
  '.sql': 'sql',
  '.hs': 'haskell',
  '.ml': 'ocaml',
  '.ex': 'elixir',
  '.exs': 'elixir',
  '.erl': 'erlang',
  '.clj': 'clojure',
  '.dart': 'dart',
  '.jl': 'julia',
  '.m': 'objective-c',
  '.vue': 'vue',
  '.svelte': 'svelte',
  '.tex': 'latex',
};

/** Files known by name rather than extension. */
const LANGUAGE_BY_NAME: Readonly<Record<string, string>> = {
  makefile: 'makefile',
  dockerfile: 'dockerfile',
  'cmakelists.txt': 'cmake',
  gemfile: 'ruby',
  rakefile: 'ruby',
};

export function languageForPath(path: string): string | undefined {
  const name = path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1).toLowerCase();
  const byName = LANGUAGE_BY_NAME[name];
  if (byName !== undefined) return byName;
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return undefined;
  return LANGUAGE_BY_EXTENSION[name.slice(dot)];
}

const LANGUAGE_NAME = /^[a-z0-9][a-z0-9+#._-]*$/;
const PATH_ESCAPE = /[%\s|>]/g;

function encodePath(path: string): string {
  return path.replace(PATH_ESCAPE, (c) =>
    [...Buffer.from(c, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
}

/**
 * Header + verbatim text. Throws CONFIG_BAD_VALUE for a language name that would break the header.
 * Format (one header line, then the file text verbatim, not HTML-escaped):
 *
 *   <| file lang=typescript path=src/a.ts |>\n
 *   …file text…
 *
 * `lang` is a name from LANGUAGE_BY_EXTENSION (lowercase, no spaces). In `path`, the characters
 * `%`, whitespace, `|` and `>` are written as %XX so the header stays one unambiguous line.
 */
export function codeDocumentText(relPath: string, language: string, text: string): string {
  if (!LANGUAGE_NAME.test(language)) {
    throw new HyperlmError(
      'CONFIG_BAD_VALUE',
      `code document ${relPath}: language "${language}" must match ${LANGUAGE_NAME}`,
    );
  }
  return `<| file lang=${language} path=${encodePath(relPath)} |>\n${text}`;
}

const HEADER = /^<\| file lang=(\S+) path=(\S*) \|>\n/;

/** The inverse of codeDocumentText; INPUT_BAD_RECORD when the header is missing or malformed. */
export function parseCodeDocument(doc: string): { relPath: string; language: string; text: string } {
  const match = HEADER.exec(doc);
  if (match === null) {
    throw new HyperlmError(
      'INPUT_BAD_RECORD',
      `code document does not start with a "<| file lang=… path=… |>" header: ${JSON.stringify(doc.slice(0, 60))}`,
    );
  }
  let relPath: string;
  try {
    relPath = decodeURIComponent(match[2]);
  } catch (cause) {
    throw new HyperlmError('INPUT_BAD_RECORD', `code document header has a badly escaped path: ${match[2]}`, { cause });
  }
  return { relPath, language: match[1], text: doc.slice(match[0].length) };
}
