import type { CommandUnknownOpts, Help, Option } from "@commander-js/extra-typings";
import type { CommandContext } from "../context.js";
import type { CompletionShell } from "../define/completion.js";

/** An option as completion sees it. */
export interface CompletionOption {
  /** The words that name it: `["-h", "--help"]`, `["--no-color"]`. */
  readonly words: readonly string[];
  /** Its help line. */
  readonly description: string;
  /** Whether the next word (or the text after `=`) is its value. */
  readonly takesValue: boolean;
  /** The values it accepts when they are a fixed list, else `undefined`. */
  readonly choices: readonly string[] | undefined;
}

/** A command as completion sees it: its subcommands, its options and its positional arguments. */
export interface CompletionCommand {
  /** The words from the program to it: `[]` for the program itself, `["run", "submit"]`. */
  readonly path: readonly string[];
  /** Its one-line summary. */
  readonly description: string;
  /** Its own options, the help option and the program's options that apply to it. */
  readonly options: readonly CompletionOption[];
  readonly subcommands: readonly CompletionCommand[];
  /** Per positional argument, in order: its fixed values, or `undefined`. */
  readonly arguments: readonly (readonly string[] | undefined)[];
}

// Everything that reaches a script is a command name, an option or a fixed value of the
// program's own definitions; they are checked anyway, so that a word can never be shell syntax.
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.+-]*$/;
const OPTION = /^--?[A-Za-z0-9][A-Za-z0-9_-]*$/;

function checked(word: string, pattern: RegExp, what: string): string {
  if (!pattern.test(word)) throw new Error(`cannot complete the ${what} ${JSON.stringify(word)}: not a plain word`);
  return word;
}

function firstLine(text: string): string {
  return text.split("\n")[0]!.trim();
}

function optionOf(o: Option): CompletionOption {
  const words = [o.short, o.long].filter((w): w is string => w !== undefined).map((w) => checked(w, OPTION, "option"));
  return {
    words,
    description: firstLine(o.description),
    takesValue: o.required || o.optional,
    choices: o.argChoices?.map((c) => checked(c, NAME, "option value")),
  };
}

function commandOf(cmd: CommandUnknownOpts, path: readonly string[], help: Help): CompletionCommand {
  const options: CompletionOption[] = [];
  const seen = new Set<string>();
  for (const o of [...help.visibleOptions(cmd), ...help.visibleGlobalOptions(cmd)]) {
    const option = optionOf(o);
    if (option.words.some((w) => seen.has(w))) continue;
    for (const w of option.words) seen.add(w);
    options.push(option);
  }
  return {
    path,
    description: firstLine(help.subcommandDescription(cmd)),
    options,
    // commander's implicit `help [command]` is left out: `--help` is offered everywhere.
    subcommands: help
      .visibleCommands(cmd)
      .filter((c) => c.name() !== "help")
      .map((c) => commandOf(c, [...path, checked(c.name(), NAME, "command")], help)),
    arguments: cmd.registeredArguments.map((a) => a.argChoices?.map((c) => checked(c, NAME, "argument value"))),
  };
}

/** The completion tree of `program`: every visible command, with its visible options. */
export function completionTree(program: CommandUnknownOpts): CompletionCommand {
  return commandOf(program, [], program.createHelp());
}

function flatten(c: CompletionCommand): CompletionCommand[] {
  return [c, ...c.subcommands.flatMap(flatten)];
}

/** The lookup tables every script is made of, keyed by command path (words joined by a space). */
interface Tables {
  commands: CompletionCommand[];
  key: (c: CompletionCommand) => string;
}

function tablesOf(tree: CompletionCommand): Tables {
  return { commands: flatten(tree), key: (c) => c.path.join(" ") };
}

const optionWords = (c: CompletionCommand): string[] => c.options.flatMap((o) => o.words);
const valueOptionWords = (c: CompletionCommand): string[] => c.options.filter((o) => o.takesValue).flatMap((o) => o.words);

/** `'text'` for POSIX shells (bash, zsh): only `'` needs care. */
function shQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** `'text'` for fish, whose single quotes take `\\` and `\'` as escapes. */
function fishQuote(text: string): string {
  return `'${text.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

function header(shell: string, version: string, lines: readonly string[]): string {
  return [
    `# ${shell} completion for expflow ${version}, written by \`expflow completion ${shell}\` from its commands and`,
    "# options (a fixed list: write it again after upgrading expflow).",
    ...lines.map((l) => `#   ${l}`),
    "",
  ].join("\n");
}

/** A shell `case` over `subject`, one branch per non-empty entry. */
function shCase(subject: string, entries: readonly (readonly [string, string])[], indent = "  "): string {
  const branches = entries.map(([k, body]) => `${indent}  ${shQuote(k)}) ${body} ;;`);
  return [`${indent}case ${subject} in`, ...branches, `${indent}esac`].join("\n");
}

/**
 * The bash completion script for `tree`: `complete -F` with a function that walks the words
 * before the cursor to the command they name (skipping option values, stopping at `--`), then
 * offers its subcommands, its options (after `-`), an option's fixed values, or a positional
 * argument's; elsewhere bash's own completion (files), through `-o default`. bash 3.2 or newer.
 */
export function bashCompletion(tree: CompletionCommand, version: string): string {
  const { commands, key } = tablesOf(tree);
  const subs = commands.filter((c) => c.subcommands.length > 0).map((c) => [key(c), `echo ${shQuote(c.subcommands.map((s) => s.path.at(-1)!).join(" "))}`] as const);
  const opts = commands.map((c) => [key(c), `echo ${shQuote(optionWords(c).join(" "))}`] as const);
  const takes = commands.flatMap((c) => valueOptionWords(c).map((w) => `${key(c)}|${w}`));
  const optionValues = commands.flatMap((c) => c.options.filter((o) => o.choices !== undefined).flatMap((o) => o.words.map((w) => [`${key(c)}|${w}`, `echo ${shQuote(o.choices!.join(" "))}`] as const)));
  const argumentValues = commands.flatMap((c) => c.arguments.flatMap((choices, i) => (choices === undefined ? [] : [[`${key(c)}|${i}`, `echo ${shQuote(choices.join(" "))}`] as const])));
  return `${header("bash", version, ["in this shell: source <(expflow completion bash)", "for good:      expflow completion bash > ~/.local/share/bash-completion/completions/expflow"])}
_expflow_subcommands() {
${shCase("$1", subs)}
}

_expflow_options() {
${shCase("$1", opts)}
}

_expflow_takes_value() {
${takes.length === 0 ? "  return 1" : `  case "$1|$2" in\n    ${takes.map(shQuote).join("|\\\n    ")}) return 0 ;;\n  esac\n  return 1`}
}

_expflow_option_values() {
${shCase('"$1|$2"', optionValues)}
}

_expflow_argument_values() {
${shCase('"$1|$2"', argumentValues)}
}

_expflow_completion() {
  local cur=\${COMP_WORDS[COMP_CWORD]} path='' word words='' value='' i n=0
  COMPREPLY=()
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=\${COMP_WORDS[i]}
    if [[ -n $value ]]; then
      value=''
      continue
    fi
    # After --, the words are a command of the user's (run submit): bash's own completion.
    [[ $word == -- ]] && return 0
    if [[ $word == -* ]]; then
      if [[ $word != *=* ]] && _expflow_takes_value "$path" "$word"; then
        value=$word
        # --opt=value: bash splits it at the '=' (COMP_WORDBREAKS).
        if [[ \${COMP_WORDS[i+1]} == = && $((i + 1)) -lt $COMP_CWORD ]]; then i=$((i + 1)); fi
      fi
      continue
    fi
    if [[ " $(_expflow_subcommands "$path") " == *" $word "* ]]; then
      path=\${path:+$path }$word
      n=0
    else
      n=$((n + 1))
    fi
  done
  if [[ -n $value ]]; then
    words=$(_expflow_option_values "$path" "$value")
  elif [[ $cur == -* ]]; then
    words=$(_expflow_options "$path")
  else
    words=$(_expflow_subcommands "$path")
    [[ -z $words ]] && words=$(_expflow_argument_values "$path" "$n")
  fi
  [[ -n $words ]] && COMPREPLY=($(compgen -W "$words" -- "$cur"))
  return 0
}

complete -o default -F _expflow_completion expflow
`;
}

/** `name:description` for zsh's `_describe`, the name's colons escaped. */
function zshItem(word: string, description: string): string {
  return shQuote(`${word.replace(/:/g, "\\:")}:${description}`);
}

/**
 * The zsh completion script for `tree`: an autoloadable `#compdef expflow` function (the same
 * walk as the bash script's) that describes subcommands and options with their help lines;
 * sourced instead of autoloaded, it registers itself with `compdef`.
 */
export function zshCompletion(tree: CompletionCommand, version: string): string {
  const { commands, key } = tablesOf(tree);
  const reply = (items: readonly string[]) => `reply=(${items.join(" ")})`;
  const subs = commands.filter((c) => c.subcommands.length > 0).map((c) => [key(c), reply(c.subcommands.map((s) => zshItem(s.path.at(-1)!, s.description)))] as const);
  const opts = commands.map((c) => [key(c), reply(c.options.flatMap((o) => o.words.map((w) => zshItem(w, o.description))))] as const);
  const takes = commands.filter((c) => valueOptionWords(c).length > 0).map((c) => [key(c), reply(valueOptionWords(c).map(shQuote))] as const);
  const optionValues = commands.flatMap((c) => c.options.filter((o) => o.choices !== undefined).flatMap((o) => o.words.map((w) => [`${key(c)}|${w}`, reply(o.choices!.map(shQuote))] as const)));
  const argumentValues = commands.flatMap((c) => c.arguments.flatMap((choices, i) => (choices === undefined ? [] : [[`${key(c)}|${i}`, reply(choices.map(shQuote))] as const])));
  const fn = (name: string, subject: string, entries: readonly (readonly [string, string])[]) => `${name}() {\n  reply=()\n${shCase(subject, entries)}\n}`;
  return `#compdef expflow
${header("zsh", version, ["in this shell (after compinit): source <(expflow completion zsh)", 'for good: expflow completion zsh > "${fpath[1]}/_expflow", then start a new shell'])}
${fn("_expflow_subcommands", "$1", subs)}

${fn("_expflow_options", "$1", opts)}

${fn("_expflow_value_options", "$1", takes)}

${fn("_expflow_option_values", '"$1|$2"', optionValues)}

${fn("_expflow_argument_values", '"$1|$2"', argumentValues)}

_expflow() {
  # Not "path": zsh ties that name to $PATH.
  local cmdpath='' word value='' cur=\${words[CURRENT]}
  local -i i n=0
  local -a reply
  for (( i = 2; i < CURRENT; i++ )); do
    word=\${words[i]}
    if [[ -n $value ]]; then
      value=''
      continue
    fi
    # After --, the words are a command of the user's (run submit): files.
    if [[ $word == -- ]]; then
      _files
      return
    fi
    if [[ $word == -* ]]; then
      _expflow_value_options "$cmdpath"
      if [[ $word != *=* ]] && (( \${reply[(Ie)$word]} )); then value=$word; fi
      continue
    fi
    _expflow_subcommands "$cmdpath"
    if (( \${#\${(@M)reply:#\${(b)word}:*}} )); then
      cmdpath=\${cmdpath:+$cmdpath }$word
      n=0
    else
      n+=1
    fi
  done
  if [[ -n $value ]]; then
    _expflow_option_values "$cmdpath" "$value"
    if (( $#reply )); then compadd -a reply; else _files; fi
    return
  fi
  if [[ $cur == -* ]]; then
    _expflow_options "$cmdpath"
    _describe -t options option reply
    return
  fi
  _expflow_subcommands "$cmdpath"
  if (( $#reply )); then
    _describe -t commands command reply
    return
  fi
  _expflow_argument_values "$cmdpath" "$n"
  if (( $#reply )); then compadd -a reply; else _files; fi
}

if [[ \${zsh_eval_context[-1]} == loadautofunc ]]; then
  _expflow "$@"
else
  compdef _expflow expflow
fi
`;
}

/**
 * The fish completion script for `tree`: `complete -c expflow` lines conditioned on the command
 * the words so far name (`__expflow_path`, the same walk as the bash script's), with the help
 * lines as descriptions; files only where a command takes them (after `--`, positional
 * arguments, options that take a value).
 */
export function fishCompletion(tree: CompletionCommand, version: string): string {
  const { commands, key } = tablesOf(tree);
  const switchOf = (name: string, entries: readonly (readonly [string, string])[]) =>
    [`function ${name}`, "    switch $argv[1]", ...entries.flatMap(([k, v]) => [`        case ${fishQuote(k)}`, `            echo ${fishQuote(v)}`]), "    end", "end"].join("\n");
  const subs = commands.filter((c) => c.subcommands.length > 0).map((c) => [key(c), c.subcommands.map((s) => s.path.at(-1)!).join(" ")] as const);
  const takes = commands.filter((c) => valueOptionWords(c).length > 0).map((c) => [key(c), valueOptionWords(c).join(" ")] as const);
  const lines: string[] = [];
  for (const c of commands) {
    const at = `-n ${fishQuote(`__expflow_at ${fishQuote(key(c))}`)}`;
    for (const s of c.subcommands) lines.push(`complete -c expflow ${at} -f -a ${fishQuote(s.path.at(-1)!)} -d ${fishQuote(s.description)}`);
    for (const o of c.options) {
      const names = o.words.map((w) => (w.startsWith("--") ? `-l ${w.slice(2)}` : `-s ${w.slice(1)}`)).join(" ");
      const value = !o.takesValue ? "" : o.choices !== undefined ? ` -x -a ${fishQuote(o.choices.join(" "))}` : " -r -F";
      lines.push(`complete -c expflow ${at} ${names}${value} -d ${fishQuote(o.description)}`);
    }
    c.arguments.forEach((choices, i) => {
      if (choices !== undefined) lines.push(`complete -c expflow -n ${fishQuote(`__expflow_at ${fishQuote(key(c))} ${i}`)} -f -a ${fishQuote(choices.join(" "))}`);
    });
  }
  return `${header("fish", version, ["in this shell: expflow completion fish | source", "for good:      expflow completion fish > ~/.config/fish/completions/expflow.fish"])}
${switchOf("__expflow_subcommands", subs)}

${switchOf("__expflow_value_options", takes)}

# The command the words before the cursor name, then the number of positional arguments after it
# ("--" alone after a --: the words are a command of the user's).
function __expflow_path
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l path ''
    set -l n 0
    set -l value 0
    for word in $tokens
        if test $value = 1
            set value 0
            continue
        end
        if test "$word" = '--'
            echo -- '--'
            return
        end
        if string match -q -- '-*' "$word"
            if not string match -q -- '*=*' "$word"; and contains -- "$word" (string split ' ' -- (__expflow_value_options "$path"))
                set value 1
            end
            continue
        end
        if contains -- "$word" (string split ' ' -- (__expflow_subcommands "$path"))
            set path (string trim -- "$path $word")
            set n 0
        else
            set n (math $n + 1)
        end
    end
    echo -- $path
    echo -- $n
end

# Whether the words before the cursor name command $argv[1] (and, with $argv[2], that many
# positional arguments follow it). fish itself completes the value of an option that takes one.
function __expflow_at
    set -l at (__expflow_path)
    test (count $at) -eq 2; or return 1
    test "$at[1]" = "$argv[1]"; or return 1
    if set -q argv[2]
        test "$at[2]" = "$argv[2]"; or return 1
    end
end

${lines.join("\n")}
`;
}

/**
 * `expflow completion <shell>`: prints the completion script for the commands of `program`.
 *
 * @returns 0.
 */
export function completionCommand(shell: CompletionShell, program: CommandUnknownOpts, ctx: CommandContext): number {
  const tree = completionTree(program);
  const version = program.version() ?? "";
  const script = shell === "bash" ? bashCompletion(tree, version) : shell === "zsh" ? zshCompletion(tree, version) : fishCompletion(tree, version);
  ctx.io.stdout.write(script);
  return 0;
}
