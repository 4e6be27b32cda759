# bash completion for the mq tools                              -*- shell-script -*-
# Install as share/bash-completion/completions/mq-put (and a link per tool),
# or source it from ~/.bashrc.  Needs no bash-completion helpers.

# Add the words that start with $cur to COMPREPLY.
_mq_add()
{
    local w
    for w; do
        [[ $w == "$cur"* ]] && COMPREPLY+=("$w")
    done
    return 0
}

# Set spool to the spool root: $1 (a -d value), else $MQ_SPOOL, else the default.
_mq_spool()
{
    spool=${1:-${MQ_SPOOL:-}}
    if [[ -z $spool ]]; then
        if ((EUID == 0)); then
            spool=/var/spool/mq
        else
            spool=${XDG_STATE_HOME:-${HOME:-}/.local/state}/mq
        fi
    fi
    [[ $spool == '~' || $spool == '~/'* ]] && spool=${HOME:-}${spool#'~'}
    [[ $spool == /* ]] || spool=$PWD/$spool
    return 0
}

# Queue names: directories of the spool with a valid name and a lock file.
_mq_queues()
{
    local f q
    for f in "$spool"/*/lock; do
        q=${f%/lock} q=${q##*/}
        [[ -f $f && $q =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ ]] && _mq_add "$q"
    done
    return 0
}

# Absolute paths of files: $@ are globs; marks the replies as file names.
_mq_paths()
{
    compopt -o filenames 2>/dev/null
    _mq_add "$@"
}

_mq()
{
    local cmd=${COMP_WORDS[0]##*/} cur=${COMP_WORDS[COMP_CWORD]-}
    local argopts=d flags= # options with a value, options without
    case $cmd in
        mq-put) argopts=dgHkprDAT flags=0lP ;;
        mq-get) argopts=dnLt flags=w ;;
        mq-work) argopts=bdjkLnrt flags=esv ;;
        mq-nack) argopts=dD ;;
        mq-touch) argopts=dL ;;
        mq-ls | mq-purge | mq-kick) argopts=ds ;;
        mq-mv) argopts=ds flags=a ;;
        mq-stat) argopts=dwc flags=jP ;;
        mq-release) argopts=da ;;
        mq-show) flags=j ;;
        mq-replay) argopts=dSUt flags=a ;;
        mq-resolve) argopts=dt flags=vw ;;
        mq-fsck) argopts=dT flags=n ;;
        mq-init) argopts=dgm ;;
        mq-sub) argopts=db flags=r ;;
        mq-forward) argopts=djLPt flags=erv ;;
        mq-recv) argopts=dnpPt flags=ev ;;
    esac

    # Scan the words before the cursor (getopt style: -ab, -dDIR, -d DIR, --).
    # Bash splits words at colons (COMP_WORDBREAKS): an operand such as
    # amqp://host:5672/vhost comes as amqp : //host : 5672/vhost, and is
    # joined again here.
    local i j w c want= dir= ddash= join= last=0
    local -a args=() # operands
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        if [[ $w == : && $last -eq i-1 && $last -gt 0 ]]; then
            args[${#args[@]}-1]+=:
            join=1 last=$i
        elif [[ -n $join ]]; then
            args[${#args[@]}-1]+=$w
            join= last=$i
        elif [[ -n $want ]]; then
            [[ $want == d ]] && dir=$w
            want=
        elif [[ -z $ddash && $w == -- ]]; then
            ddash=1
        elif [[ -z $ddash && $w == -?* ]]; then
            for ((j = 1; j < ${#w}; j++)); do
                c=${w:j:1}
                [[ $argopts == *"$c"* ]] || continue
                if ((j + 1 < ${#w})); then
                    [[ $c == d ]] && dir=${w:j+1}
                else
                    want=$c
                fi
                break
            done
        else
            args+=("$w")
            last=$i
        fi
    done

    COMPREPLY=()
    local spool shopts
    _mq_spool "$dir"
    shopts=$(shopt -p nullglob failglob dotglob)
    shopt -s nullglob
    shopt -u failglob dotglob

    case $want in
        d)
            compopt -o filenames 2>/dev/null
            mapfile -t COMPREPLY < <(compgen -d -- "$cur")
            ;;
        p) [[ $cmd == mq-put ]] && _mq_add 0 1 2 3 4 5 6 7 8 9 ;;
        P) # a password file
            compopt -o filenames 2>/dev/null
            mapfile -t COMPREPLY < <(compgen -f -- "$cur")
            ;;
        g) mapfile -t COMPREPLY < <(compgen -g -- "$cur") ;;
        s)
            if [[ $cmd == mq-mv ]]; then
                _mq_add ready delayed held dead
            else
                _mq_add ready delayed inflight dead held done prepared
            fi
            ;;
        t) [[ $cmd == mq-replay ]] && _mq_queues ;;
        a) _mq_queues ;;
        ?) ;; # a duration, time, count or key: nothing to offer
        *)
            if [[ -z $ddash && $cur == -* ]]; then
                local opts=$flags$argopts
                for ((j = 0; j < ${#opts}; j++)); do
                    _mq_add "-${opts:j:1}"
                done
                _mq_add -h -V
                [[ $cmd == mq-work || $cmd == mq-forward || $cmd == mq-recv ]] && _mq_add --drain
                [[ $cmd == mq-put ]] && _mq_add --prepare
            else
                case $cmd:${#args[@]} in
                    mq-ack:* | mq-nack:* | mq-touch:*) _mq_paths "$spool"/*/inflight/* ;;
                    mq-hold:*)
                        _mq_paths "$spool"/*/ready/*/* "$spool"/*/delayed/*/* \
                            "$spool"/*/inflight/*
                        ;;
                    mq-release:*) _mq_paths "$spool"/*/held/* ;;
                    mq-commit:*) _mq_paths "$spool"/*/prepared/* ;;
                    mq-show:*)
                        _mq_paths "$spool"/*/ready/*/* "$spool"/*/delayed/*/* \
                            "$spool"/*/inflight/* "$spool"/*/dead/* "$spool"/*/held/* \
                            "$spool"/*/done/*/* "$spool"/*/prepared/*
                        ;;
                    mq-rm:*)
                        _mq_paths "$spool"/*/ready/*/* "$spool"/*/delayed/*/* \
                            "$spool"/*/held/* "$spool"/*/dead/* "$spool"/*/done/*/* \
                            "$spool"/*/prepared/*
                        ;;
                    mq-replay:*)
                        # -a queue [dest]: queues; else done messages
                        if [[ " ${COMP_WORDS[*]} " == *" -a "* ]]; then
                            ((${#args[@]} < 2)) && _mq_queues
                        else
                            _mq_paths "$spool"/*/done/*/*
                        fi
                        ;;
                    mq-stat:* | mq-init:* | mq-pause:* | mq-resume:* | mq-fsck:* | mq-sub:* | *:0) _mq_queues ;;
                    mq-mv:*)
                        # -a queue dest, or dest and the messages to move
                        if [[ " ${COMP_WORDS[*]:1:COMP_CWORD-1} " == *" -a"* ]]; then
                            ((${#args[@]} < 2)) && _mq_queues
                        else
                            _mq_paths "$spool"/*/ready/*/* "$spool"/*/delayed/*/* \
                                "$spool"/*/held/* "$spool"/*/dead/*
                        fi
                        ;;
                    mq-work:1 | mq-resolve:1) mapfile -t COMPREPLY < <(compgen -c -- "$cur") ;;
                    mq-forward:*) ;; # url, exchange, routing key: nothing to offer
                    mq-recv:2) [[ ${args[0]} == *://* ]] && _mq_queues ;; # after url amqp-queue
                    mq-work:* | mq-resolve:*)
                        compopt -o filenames 2>/dev/null
                        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
                        ;;
                    mq-kick:*) _mq_paths "$spool/${args[0]}"/dead/* "$spool/${args[0]}"/delayed/*/* ;;
                    mq-put:*)
                        compopt -o filenames 2>/dev/null
                        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
                        ;;
                esac
            fi
            ;;
    esac

    eval "$shopts"
    return 0
}

complete -F _mq mq-put mq-get mq-ack mq-nack mq-touch mq-ls mq-stat mq-kick mq-purge mq-init mq-pause mq-resume mq-work mq-hold mq-release mq-rm mq-mv mq-fsck mq-sub mq-show mq-replay mq-commit mq-resolve mq-forward mq-recv
