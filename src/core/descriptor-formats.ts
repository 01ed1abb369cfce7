/**
 * The keys of a folder job's descriptor, by its format (SPEC §2): the
 * [QMOptions] section of an ini file (proc_config.cfg, as QM 0.4 read it
 * with configparser), or the children of an XML file's root (infos.xml).
 * descriptor.ts turns them into a Descriptor, as it does a script's
 * `#SBATCH`/`#QM` lines.
 */
import { getSection, IniSyntaxError, parseIni } from './configparser.js';
import { DescriptorError } from './descriptor-types.js';
import type { RawKeys } from './descriptor-resources.js';

const QM_SECTION = 'QMOptions';

export function cfgKeys(text: string, file: string): RawKeys {
  let doc;
  try {
    doc = parseIni(text, file);
  } catch (error) {
    throw error instanceof IniSyntaxError ? new DescriptorError(error.message) : error;
  }
  const section = getSection(doc, QM_SECTION);
  if (!section) throw new DescriptorError(`${file}: no [${QM_SECTION}] section: expected [${QM_SECTION}] with script = <command>`);
  const keys: RawKeys = new Map();
  for (const [key, value] of section.values) {
    keys.set(key, { value, where: `${file} line ${section.lines.get(key)}`, label: key });
  }
  return keys;
}

/** Loaded for xml descriptors only: cfg users (and `qm submit` of one) do not pay for it. */
export async function xmlKeys(text: string, file: string): Promise<RawKeys> {
  const { XMLParser, XMLValidator } = await import('fast-xml-parser');
  const xmlParser = new XMLParser({ ignoreAttributes: false, parseTagValue: false, htmlEntities: true });
  // No DTD at all: nothing to expand (billion laughs), nothing external to fetch.
  if (/<!(DOCTYPE|ENTITY)/i.test(text)) throw new DescriptorError(`${file}: DOCTYPE and ENTITY declarations are not allowed`);
  const valid = XMLValidator.validate(text);
  if (valid !== true) throw new DescriptorError(`${file} line ${valid.err.line}: not well-formed XML: ${valid.err.msg}`);
  let doc: Record<string, unknown>;
  try {
    doc = xmlParser.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new DescriptorError(`${file}: cannot read XML: ${(error as Error).message}`);
  }
  const roots = Object.keys(doc).filter((name) => !name.startsWith('?'));
  if (roots.length !== 1) throw new DescriptorError(`${file}: expected one root element like <PARAMETER>`);
  const root = doc[roots[0]];
  const keys: RawKeys = new Map();
  if (typeof root !== 'object' || root === null) return keys;
  for (const [name, node] of Object.entries(root)) {
    if (name.startsWith('@_') || name.startsWith('#')) continue;
    const last: unknown = Array.isArray(node) ? node.at(-1) : node;
    // <key value="..."/> as QM 0.4 wrote it; <key>text</key> accepted too.
    const fields = typeof last === 'object' && last !== null ? (last as Record<string, unknown>) : { '#text': last };
    const value = fields['@_value'] ?? fields['#text'];
    if (value !== undefined) keys.set(name.toLowerCase(), { value: String(value), where: file, label: name.toLowerCase() });
  }
  return keys;
}
