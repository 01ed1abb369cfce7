/**
 * `qm completion bash|zsh`: a completion script for the shell, built from
 * the commands and options `qm` has (so it never lags behind them); job names
 * are completed from `qm status --json`.
 * Install: `source <(qm completion bash)` (in ~/.bashrc), or for zsh
 * `source <(qm completion zsh)` (in ~/.zshrc).
 */
import { UserError } from './context.js';

export interface CommandWords {
  name: string;
  options: string[];
}

/** Commands whose arguments are job names. */
const TAKES_JOBS = ['cancel', 'hold', 'release', 'requeue', 'show', 'wait', 'logs'];

export function completion(shell: string, commands: CommandWords[]): void {
  if (shell !== 'bash' && shell !== 'zsh') throw new UserError(`completion ${shell}: expected bash or zsh`, 2);
  const names = commands.map((c) => c.name).join(' ');
  const cases = commands.map((c) => `    ${c.name}) opts="${c.options.join(' ')}" ;;`).join('\n');
  const bash = `# qm completion (${shell}): source <(qm completion ${shell})
_qm_jobs() {
  qm status --json --all 2>/dev/null | sed -n 's/^ *"name": "\\(.*\\)",$/\\1/p' | sort -u
}
_qm() {
  local cur=\${COMP_WORDS[COMP_CWORD]} cmd=\${COMP_WORDS[1]} opts=""
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${names} --help --version" -- "$cur") )
    return
  fi
  case "$cmd" in
${cases}
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=( $(compgen -W "$opts -c --config --help" -- "$cur") )
  elif [[ " ${TAKES_JOBS.join(' ')} " == *" $cmd "* ]]; then
    COMPREPLY=( $(compgen -W "$(_qm_jobs)" -- "$cur") )
  else
    COMPREPLY=( $(compgen -f -- "$cur") )
  fi
}
complete -F _qm qm
`;
  // zsh runs the bash function through its bashcompinit layer
  const zsh = `autoload -U +X bashcompinit && bashcompinit\n${bash}`;
  process.stdout.write(shell === 'bash' ? bash : zsh);
}
