# bash completion for ferry, ferryd and ferry-sim (installed as
# /usr/share/bash-completion/completions/ferry, with links named ferryd and ferry-sim).
# Options and subcommands are read from the programs' own --help when Tab is pressed, so this
# file never lists them and cannot fall behind them.

# _ferry_help_options CMD...: the long and short options in `CMD... --help`, one a line.
_ferry_help_options()
{
    LC_ALL=C "$@" --help 2>/dev/null | command sed -n \
        -e '/^Options:/,/^$/{' \
        -e 's/^  \(-[A-Za-z0-9]\),\(--[A-Za-z0-9][-A-Za-z0-9_]*\).*/\1\n\2/p' \
        -e 's/^  \(--\{0,1\}[A-Za-z0-9][-A-Za-z0-9_]*\).*/\1/p' \
        -e '}'
}

# _ferry_help_arg_options CMD...: the options in `CMD... --help` that take a value (an
# uppercase word such as TEXT or FILE follows them), as a |-separated pattern.
_ferry_help_arg_options()
{
    LC_ALL=C "$@" --help 2>/dev/null | command sed -n \
        -e '/^Options:/,/^$/s/^  \(-[A-Za-z0-9],\)\{0,1\}\(--[A-Za-z0-9][-A-Za-z0-9_]*\) [A-Z].*/\1\2/p' |
        command tr ',\n' '||'
}

# _ferry_subcommands CMD: the subcommands listed in `CMD --help`.
_ferry_subcommands()
{
    LC_ALL=C "$1" --help 2>/dev/null |
        command awk '/^Subcommands:$/ { on = 1; next } on && NF == 0 { exit } on && /^  [^ ]/ { print $1 }'
}

_ferry()
{
    local cmd=${1:-${COMP_WORDS[0]}}
    local cur=${COMP_WORDS[COMP_CWORD]} prev=
    ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
    COMPREPLY=()

    # The subcommand: the first word that is neither an option nor an option's value.
    local top_args sub="" i word
    top_args="|$(_ferry_help_arg_options "$cmd")"
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
        if [[ $word == -* ]]; then
            [[ $top_args == *"|$word|"* ]] && ((i++))
            continue
        fi
        sub=$word
        break
    done

    local arg_options
    if [[ -z $sub ]]; then
        arg_options=$top_args
    else
        arg_options="|$(_ferry_help_arg_options "$cmd" "$sub")"
    fi
    # The value of an option: a file name for file options, nothing to offer otherwise.
    if [[ $prev == -* && $arg_options == *"|$prev|"* ]]; then
        case $prev in
            --config | --token-file | --ca | -o | --output)
                compopt -o filenames 2>/dev/null
                mapfile -t COMPREPLY < <(compgen -f -- "$cur")
                ;;
        esac
        return 0
    fi

    if [[ -z $sub ]]; then
        if [[ $cur == -* ]]; then
            mapfile -t COMPREPLY < <(compgen -W "$(_ferry_help_options "$cmd")" -- "$cur")
        else
            mapfile -t COMPREPLY < <(compgen -W "$(_ferry_subcommands "$cmd")" -- "$cur")
        fi
    elif [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$(_ferry_help_options "$cmd" "$sub")" -- "$cur")
    else
        # Local files (put's source, get's destination); remote names are not completed here
        # (`ferry shell` completes those).
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
    fi
    return 0
} &&
    complete -F _ferry ferry

# ferryd and ferry-sim: bash-completion's _longopt reads the options from --help.
if declare -F _longopt >/dev/null; then
    complete -F _longopt ferryd ferry-sim
else
    _ferry_longopt()
    {
        local cur=${COMP_WORDS[COMP_CWORD]}
        if [[ $cur == -* ]]; then
            mapfile -t COMPREPLY < <(compgen -W "$(_ferry_help_options "${1:-${COMP_WORDS[0]}}")" -- "$cur")
        else
            compopt -o filenames 2>/dev/null
            mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        fi
    } &&
        complete -F _ferry_longopt ferryd ferry-sim
fi

# ex: filetype=sh
