import { describe, expect, it } from 'vitest';
import { getSection, IniSyntaxError, parseIni } from '../../src/core/configparser.js';

/** QMserv.cfg as QM 0.4 shipped it (with a `key : value` line added). */
const QM04_SERV_CFG = `[QMServer]
# The parameters for the QueueManager program
#
# Specify the path where you have placed QM_* folders
QM_FOLDER = /DATA/QM

# the maximum number of processors allowed for one job
# %integer% %min:1%
MaxNbProcessors = 8


# name of job files - accepts xml or cfg file types


##job_file = infos.xml
job_file = proc_config.cfg

# If MailActive is TRUE, a mail is sent when a job is finished
MailActive = True

# debug mode, should not be active in production mode
# %boolean%
Debug = False

[WEB_QMserver]
# WEB_QMserver is a utility allowing to monitor QM - not fully debuged yet !
#
#Hostname
Host = localhost

# the port on which the server is serving
# %integer% %min:1024% %max:16535%
The_Port : 8000

# if True, the kill button will be present (to kill the running job)
# NOT FULLY DEBUGGED - use at your own risks
Licence_to_kill = False

# debug mode, should not be active in production mode
Debug = True
`;

function values(text: string, section: string): Record<string, string> {
  const found = getSection(parseIni(text, 'test.cfg'), section);
  return Object.fromEntries(found?.values ?? []);
}

function syntaxError(text: string): string {
  try {
    parseIni(text, 'bad.cfg');
  } catch (error) {
    expect(error).toBeInstanceOf(IniSyntaxError);
    return (error as Error).message;
  }
  throw new Error('expected an IniSyntaxError');
}

describe('parseIni', () => {
  it('reads the QM 0.4 QMserv.cfg', () => {
    const doc = parseIni(QM04_SERV_CFG, 'QMserv.cfg');
    expect([...doc.sections.keys()]).toEqual(['QMServer', 'WEB_QMserver']);
    const server = doc.sections.get('QMServer')!;
    expect(Object.fromEntries(server.values)).toEqual({
      qm_folder: '/DATA/QM',
      maxnbprocessors: '8',
      job_file: 'proc_config.cfg',
      mailactive: 'True',
      debug: 'False',
    });
    expect(server.lines.get('maxnbprocessors')).toBe(9);
    expect(server.lines.get('job_file')).toBe(16);
    expect(values(QM04_SERV_CFG, 'WEB_QMserver')).toEqual({
      host: 'localhost',
      the_port: '8000',
      licence_to_kill: 'False',
      debug: 'True',
    });
  });

  it('reads the README test_QM descriptor, sections apart', () => {
    const text = '[Proc]\nSize : 50\n\n[QMOptions]\nnb_proc : 4\ne_mail : madelsuc@unistra.fr\n'
      + 'info : Test of the QM manager\nscript : python test.py proc_config.cfg\n';
    expect(values(text, 'Proc')).toEqual({ size: '50' });
    expect(values(text, 'QMOptions')).toEqual({
      nb_proc: '4',
      e_mail: 'madelsuc@unistra.fr',
      info: 'Test of the QM manager',
      script: 'python test.py proc_config.cfg',
    });
  });

  it('splits on the first = or :, keeps ; # and % inside values', () => {
    const text = [
      '[s]',
      'script = echo a; echo b # not a comment',
      'url: http://host:80/x=y',
      'ratio = 50% %(name)s',
      'eq=a=b',
      '  ; indented comment line',
      'empty =',
    ].join('\n');
    expect(values(text, 's')).toEqual({
      script: 'echo a; echo b # not a comment',
      url: 'http://host:80/x=y',
      ratio: '50% %(name)s',
      eq: 'a=b',
      empty: '',
    });
  });

  it('joins indented continuation lines; a blank line ends the value', () => {
    const text = '[s]\nscript = echo one\n    echo two\n\t# a comment inside\n  echo three\n\nnext = 1\n';
    expect(values(text, 's')).toEqual({ script: 'echo one\necho two\necho three', next: '1' });
    expect(syntaxError('[s]\nscript = a\n\n  orphan line\n')).toBe(
      'bad.cfg line 4: expected "key = value", "key : value" or "[section]", got "orphan line"',
    );
  });

  it('lower-cases keys, last duplicate wins, merges repeated sections', () => {
    const text = '[S]\nNB_Proc = 1\nnb_proc = 2\n[T]\n[S]\nInfo = x\n';
    const doc = parseIni(text, 'x.cfg');
    expect(Object.fromEntries(doc.sections.get('S')!.values)).toEqual({ nb_proc: '2', info: 'x' });
    expect(doc.sections.get('S')!.lines.get('nb_proc')).toBe(3);
  });

  it('finds sections case-insensitively, the exact name first, with [DEFAULT] beneath', () => {
    const doc = parseIni('[DEFAULT]\nsize = 9\nnb_proc = 1\n[qmoptions]\nnb_proc = 2\n[QMOPTIONS]\nnb_proc = 3\n', 'x.cfg');
    expect(Object.fromEntries(getSection(doc, 'QMOptions')!.values)).toEqual({ size: '9', nb_proc: '2' });
    expect(getSection(doc, 'QMOPTIONS')!.values.get('nb_proc')).toBe('3');
    expect(getSection(doc, 'missing')).toBeUndefined();
  });

  it('strips a BOM and reads CRLF files', () => {
    expect(values('\uFEFF[s]\r\nkey = v\r\n  more\r\n', 's')).toEqual({ key: 'v\nmore' });
  });

  it('reports syntax errors with source and line', () => {
    expect(syntaxError('# header comment\nkey = value\n')).toBe('bad.cfg line 2: key "key" before any [section] header');
    expect(syntaxError('[s]\njust words\n')).toBe(
      'bad.cfg line 2: expected "key = value", "key : value" or "[section]", got "just words"',
    );
    expect(syntaxError('[s]\n= value\n')).toBe('bad.cfg line 2: a value without a key');
    expect(syntaxError('[s]\n[ ]\n')).toBe('bad.cfg line 2: empty section name');
  });
});
