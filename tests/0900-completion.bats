#!/usr/bin/env bats
# Shell completions (completions/): bash behaviour, zsh and fish syntax.
# Needs nothing built: the spool is made by hand.

bats_require_minimum_version 1.5.0

COMPLETIONS=$BATS_TEST_DIRNAME/../completions

# make_queue SPOOL QUEUE: a queue directory as mq-init would leave it.
make_queue() {
    mkdir -p "$1/$2"/{ready,inflight,dead,delayed,held,tmp}
    touch "$1/$2/lock"
}

setup() {
    SPOOL=$BATS_TEST_TMPDIR/spool
    make_queue "$SPOOL" orders
    make_queue "$SPOOL" other
    make_queue "$SPOOL" zz
    make_queue "$SPOOL" 'bad name' # not a valid queue name
    mkdir -p "$SPOOL/nolock" "$SPOOL/.init.x1" && touch "$SPOOL/.init.x1/lock"
    H1=$SPOOL/orders/inflight/1732437600.000123.x7QkT3bZ,p4,a1,s14,tK2m9Qa
    H2=$SPOOL/zz/inflight/1732437601.000001.abcdEFGH,p9,a2,tTok123
    D1=$SPOOL/orders/dead/1732437600.000124.y7QkT3bZ,p4,a5,s14,rattempts
    touch "$H1" "$H2" "$D1"
    export MQ_SPOOL=$SPOOL
}

# complete_line [BASH-OPTION...] LINE: run _mq from mq.bash in a fresh
# `bash -u` as if TAB were pressed at the end of LINE; print the replies,
# one a line.
complete_line() {
    local line=${!#}
    bash -u "${@:1:$#-1}" -c '
        source "$1" || exit
        read -ra COMP_WORDS <<<"$2"
        [[ $2 == *" " ]] && COMP_WORDS+=("")
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1)) COMP_LINE=$2 COMP_POINT=${#2}
        _mq
        [[ ${#COMPREPLY[@]} -eq 0 ]] || printf "%s\n" "${COMPREPLY[@]}"
    ' complete_line "$COMPLETIONS/mq.bash" "$line"
}

# expect LINE WORD...: completing LINE offers exactly WORD... and prints no error.
expect() {
    local line=$1
    shift
    run --separate-stderr complete_line "$line"
    [ "$status" -eq 0 ]
    [ -z "$stderr" ] || { echo "stderr: $stderr"; return 1; }
    [ "$output" = "$(printf '%s\n' "$@")" ] || {
        printf 'completing [%s]\n got: %s\nwant: %s\n' "$line" "$output" "$*"
        return 1
    }
}

@test "bash: registers all twelve tools" {
    run bash -c 'source "$1" && complete -p' _ "$COMPLETIONS/mq.bash"
    [ "$status" -eq 0 ]
    for t in put get ack nack touch ls stat kick purge init hold release replay commit resolve; do
        [[ $output == *"complete -F _mq mq-$t"* ]] || { echo "mq-$t missing"; return 1; }
    done
}

@test "bash: mq-replay offers done messages, or with -a queues" {
    mkdir -p "$SPOOL/orders/done/1732437600"
    d=$SPOOL/orders/done/1732437600/1732437600.000123.x7QkT3bZ,p4,a1,s2,d1732437601
    : >"$d"
    expect "mq-replay $SPOOL/orders/done/" "$d"
    expect 'mq-replay -a ' orders other zz
    expect 'mq-replay -t ' orders other zz
    expect 'mq-replay -' -a -d -S -U -t -h -V
}

@test "bash: queue names from the spool, filtered by prefix" {
    expect 'mq-get or' orders
    expect 'mq-get o' orders other
    expect 'mq-get ' orders other zz
    expect 'mq-put -p 7 ' orders other zz
    expect 'mq-stat -j orders ' orders other zz
    expect 'mq-get orders ' # one queue only
    expect "mq-put orders $SPOOL/o" "$SPOOL/orders" "$SPOOL/other" # files
}

@test "bash: states after -s, priorities after -p" {
    expect 'mq-ls -s ' ready delayed inflight dead held done prepared
    expect 'mq-purge -s d' delayed dead done
    expect 'mq-purge -s h' held
    expect 'mq-ls -s p' prepared
    expect 'mq-put -p ' 0 1 2 3 4 5 6 7 8 9
    expect 'mq-put -lp ' 0 1 2 3 4 5 6 7 8 9
    expect 'mq-get -n ' # a count: nothing to offer
}

@test "bash: options of each tool" {
    expect 'mq-put -' -0 -l -P -d -g -H -k -p -r -D -A -T -h -V --prepare
    expect 'mq-put -k ' # a key: nothing to offer
    expect 'mq-put -k key ' orders other zz
    expect 'mq-get -' -w -d -n -L -t -h -V
    expect 'mq-work -' -e -s -v -b -d -j -k -L -n -r -t -h -V --drain
    expect 'mq-ack -' -d -h -V
    expect 'mq-purge -' -d -s -h -V
    expect 'mq-stat -' -j -P -d -w -c -h -V
    expect 'mq-stat -w ' # an interval: nothing to offer
    expect 'mq-stat -w 1 -c 3 o' orders other
    expect 'mq-get -- -'
    expect 'mq-resolve -' -v -w -d -t -h -V
    expect 'mq-commit -' -d -h -V
}

@test "bash: mq-commit offers prepared messages; mq-resolve a queue, then a command" {
    mkdir -p "$SPOOL/orders/prepared"
    P1=$SPOOL/orders/prepared/1732437600.000130.p7QkT3bZ,p4,a0,s14
    touch "$P1"
    expect 'mq-commit ' "$P1"
    expect "mq-rm $SPOOL/orders/p" "$P1"
    expect 'mq-resolve o' orders other
    run --separate-stderr complete_line 'mq-resolve orders -- ls'
    [ "$status" -eq 0 ]
    [[ $output == *ls* ]]
}

@test "bash: in-flight handles for mq-ack, mq-nack, mq-touch" {
    expect 'mq-ack ' "$H1" "$H2"
    expect "mq-nack -D 5s $H1 " "$H1" "$H2"
    expect "mq-touch $SPOOL/z" "$H2"
}

@test "bash: dead messages of the queue for mq-kick" {
    expect 'mq-kick ' orders other zz
    expect 'mq-kick orders ' "$D1"
    expect 'mq-kick zz '
}

@test "bash: mq-hold offers ready, delayed and in-flight messages" {
    R1=$SPOOL/orders/ready/4.0000000001/1732437600.000125.r7QkT3bZ,p4,a0,s14
    L1=$SPOOL/other/delayed/1732437660/1732437600.000126.d7QkT3bZ,p4,a0,n1732437700
    mkdir -p "${R1%/*}" "${L1%/*}"
    touch "$R1" "$L1" "$SPOOL/orders/held/1732437600.000127.h7QkT3bZ,p4,a1"
    expect 'mq-hold ' "$R1" "$L1" "$H1" "$H2"
    expect "mq-hold $SPOOL/orders/" "$R1" "$H1"
    expect 'mq-hold -' -d -h -V
}

@test "bash: mq-show offers messages of every state, and -j" {
    R1=$SPOOL/orders/ready/4.0000000001/1732437600.000125.r7QkT3bZ,p4,a0,s14
    L1=$SPOOL/other/delayed/1732437660/1732437600.000126.d7QkT3bZ,p4,a0,n1732437700
    E1=$SPOOL/orders/held/1732437600.000127.h7QkT3bZ,p4,a1
    mkdir -p "${R1%/*}" "${L1%/*}"
    touch "$R1" "$L1" "$E1"
    expect "mq-show $SPOOL/orders/" "$R1" "$H1" "$D1" "$E1"
    expect "mq-show -j $SPOOL/other/" "$L1"
    expect 'mq-show -' -j -d -h -V
}

@test "bash: held messages for mq-release, queues after -a" {
    E1=$SPOOL/orders/held/1732437600.000127.h7QkT3bZ,p4,a1
    E2=$SPOOL/zz/held/1732437600.000128.h7QkT3bZ,p4,a0,x1732440000
    touch "$E1" "$E2"
    expect 'mq-release ' "$E1" "$E2"
    expect "mq-release $E1 " "$E1" "$E2"
    expect 'mq-release -a ' orders other zz
    expect 'mq-release -a o' orders other
    expect 'mq-release -' -d -a -h -V
    rm "$E1" "$E2"
    expect 'mq-release '
}

@test "bash: mq-sub completes a topic, then subscriber queues; -r" {
    expect 'mq-sub ' orders other zz
    expect 'mq-sub orders ' orders other zz
    expect 'mq-sub -r orders o' orders other
    expect 'mq-sub -' -r -d -b -h -V
    expect 'mq-sub -b "a.*" orders o' orders other
}

@test "bash: mq-forward and mq-recv are registered" {
    run bash -c 'source "$1" && complete -p mq-forward mq-recv' _ "$COMPLETIONS/mq.bash"
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf 'complete -F _mq mq-forward\ncomplete -F _mq mq-recv')" ]
}

@test "bash: mq-forward: options, the queue operand, a password file after -P" {
    expect 'mq-forward -' -e -r -v -d -j -L -P -t -h -V --drain
    expect 'mq-forward --d' --drain
    expect 'mq-forward o' orders other
    expect 'mq-forward -ev -j 128 -L 1m ' orders other zz
    expect 'mq-forward -j ' # a window: nothing to offer
    expect 'mq-forward -t ' # a timeout: nothing to offer
    expect 'mq-forward orders '                                # the url
    expect 'mq-forward orders amqp://mq@broker/prod '          # the exchange
    expect 'mq-forward orders amqp://mq@broker/prod orders '   # the routing key
    cd "$BATS_TEST_TMPDIR"
    touch amqp.pass
    expect 'mq-forward -P am' amqp.pass
    expect 'mq-forward -vP am' amqp.pass
    expect 'mq-forward -P amqp.pass o' orders other
    expect "mq-forward -d $SPOOL -P amqp.pass z" zz
}

@test "bash: mq-recv: options, the queue operand first or after url and broker queue" {
    expect 'mq-recv -' -e -v -d -n -p -P -t -h -V --drain
    expect 'mq-recv -p ' # a prefetch, not a priority
    expect 'mq-recv -n ' # a count
    expect 'mq-recv o' orders other # the configured form: the queue alone
    expect 'mq-recv orders '
    expect 'mq-recv amqp://mq@broker/prod ' # the broker queue
    expect 'mq-recv amqp://mq@broker/prod orders.incoming ' orders other zz
    expect 'mq-recv -e -p 256 amqps://mq@broker/prod orders.incoming o' orders other
    expect 'mq-recv amqp://mq@broker/prod orders.incoming orders '
    expect 'mq-recv a b ' # the first operand is no url: there is no third
    cd "$BATS_TEST_TMPDIR"
    touch amqp.pass
    expect 'mq-recv -P am' amqp.pass
}

@test "bash: a url split at its colons, as bash does, is one operand" {
    # COMP_WORDBREAKS holds ":", so bash hands amqps://mq@broker:5671/prod
    # over as five words.
    run --separate-stderr bash -u -c '
        source "$1"
        COMP_WORDS=(mq-recv amqps : //mq@broker : 5671/prod orders.incoming o) COMP_CWORD=7
        _mq; printf "%s\n" "${COMPREPLY[@]}"
        COMP_WORDS=(mq-recv amqp : //broker o) COMP_CWORD=4
        _mq; printf "%s\n" "${COMPREPLY[@]}" end
        COMP_WORDS=(mq-forward orders amqp : //broker/prod o) COMP_CWORD=5
        _mq; printf "%s\n" "${COMPREPLY[@]}" end' _ "$COMPLETIONS/mq.bash"
    [ "$status" -eq 0 ]
    [ -z "$stderr" ]
    [ "$output" = "$(printf 'orders\nother\nend\nend')" ]
}

@test "bash: -d DIR on the line is honoured" {
    make_queue "$BATS_TEST_TMPDIR/alt" alpha
    touch "$BATS_TEST_TMPDIR/alt/alpha/dead/1.2.abcdefgh,rexpired"
    expect "mq-get -d $BATS_TEST_TMPDIR/alt " alpha
    expect "mq-get -d$BATS_TEST_TMPDIR/alt " alpha
    expect "mq-put -ld $BATS_TEST_TMPDIR/alt " alpha
    expect "mq-kick -d $BATS_TEST_TMPDIR/alt alpha " "$BATS_TEST_TMPDIR/alt/alpha/dead/1.2.abcdefgh,rexpired"
    expect "mq-ack -d $BATS_TEST_TMPDIR/alt "
    cd "$BATS_TEST_TMPDIR"
    expect 'mq-get -d alt ' alpha
}

@test "bash: default spool without MQ_SPOOL" {
    [ "$EUID" -ne 0 ] || skip "running as root: default spool is /var/spool/mq"
    unset MQ_SPOOL
    mkdir -p "$BATS_TEST_TMPDIR/xdg" && mv "$SPOOL" "$BATS_TEST_TMPDIR/xdg/mq"
    XDG_STATE_HOME=$BATS_TEST_TMPDIR/xdg expect 'mq-get ' orders other zz
}

@test "bash: a missing spool gives no error" {
    export MQ_SPOOL=$BATS_TEST_TMPDIR/none
    for line in 'mq-get ' 'mq-ack ' 'mq-kick orders ' 'mq-stat ' 'mq-get -d /nonexistent/x ' \
        'mq-hold ' 'mq-release ' 'mq-release -a '; do
        expect "$line"
    done
    run --separate-stderr complete_line -O failglob 'mq-ack '
    [ "$status" -eq 0 ] && [ -z "$output" ] && [ -z "$stderr" ]
}

@test "bash: without set -u, shell options restored" {
    run bash -c 'source "$1"; shopt -s failglob
        COMP_WORDS=(mq-get o) COMP_CWORD=1; _mq; echo "${COMPREPLY[*]}"; shopt -p failglob nullglob' _ "$COMPLETIONS/mq.bash"
    [ "${lines[0]}" = "orders other" ]
    [ "${lines[1]}" = "shopt -s failglob" ]
    [ "${lines[2]}" = "shopt -u nullglob" ]
}

@test "zsh: _mq parses" {
    command -v zsh >/dev/null || skip "zsh is not installed"
    run zsh -n "$COMPLETIONS/_mq"
    [ "$status" -eq 0 ]
    [ "$(head -n 1 "$COMPLETIONS/_mq")" = "#compdef mq-put mq-get mq-ack mq-nack mq-touch mq-ls mq-stat mq-kick mq-purge mq-init mq-pause mq-resume mq-work mq-hold mq-release mq-rm mq-mv mq-fsck mq-sub mq-show mq-replay mq-commit mq-resolve mq-forward mq-recv" ]
}

@test "fish: mq.fish parses and completes queues and handles" {
    command -v fish >/dev/null || skip "fish is not installed"
    run fish --no-execute "$COMPLETIONS/mq.fish"
    [ "$status" -eq 0 ]
    run --separate-stderr fish -c 'source $argv[1]; complete -C "mq-get o"; complete -C "mq-ack "' "$COMPLETIONS/mq.fish"
    [ "$status" -eq 0 ]
    [ -z "$stderr" ]
    [ "$output" = "$(printf 'orders\tQueue\nother\tQueue\n%s\tHandle\n%s\tHandle' "$H1" "$H2")" ]
}

@test "fish: mq-sub completes a topic, then subscriber queues" {
    command -v fish >/dev/null || skip "fish is not installed"
    run --separate-stderr fish -c 'source $argv[1]; complete -C "mq-sub o"; complete -C "mq-sub -r orders z"' "$COMPLETIONS/mq.fish"
    [ "$status" -eq 0 ]
    [ -z "$stderr" ]
    [ "$output" = "$(printf 'orders\tTopic\nother\tTopic\nzz\tSubscriber')" ]
}

@test "fish: mq-hold and mq-release complete their messages, -a a queue" {
    command -v fish >/dev/null || skip "fish is not installed"
    E1=$SPOOL/orders/held/1732437600.000127.h7QkT3bZ,p4,a1
    touch "$E1"
    run --separate-stderr fish -c 'source $argv[1]; complete -C "mq-release "; complete -C "mq-release -a o"; complete -C "mq-hold "' "$COMPLETIONS/mq.fish"
    [ "$status" -eq 0 ]
    [ -z "$stderr" ]
    [ "$output" = "$(printf '%s\tHeld message\norders\tRelease every held message of a queue\nother\tRelease every held message of a queue\n%s\tHandle\n%s\tHandle' "$E1" "$H1" "$H2")" ]
}

@test "fish: mq-commit completes prepared messages, mq-put --prepare" {
    command -v fish >/dev/null || skip "fish is not installed"
    mkdir -p "$SPOOL/orders/prepared"
    P1=$SPOOL/orders/prepared/1732437600.000130.p7QkT3bZ,p4,a0,s14
    touch "$P1"
    run --separate-stderr fish -c 'source $argv[1]; complete -C "mq-commit "; complete -C "mq-put --pre"' "$COMPLETIONS/mq.fish"
    [ "$status" -eq 0 ]
    [ -z "$stderr" ]
    [ "$output" = "$(printf '%s\tPrepared message\n--prepare\tPrepare: publish only at mq-commit' "$P1")" ]
}

@test "fish: mq-show completes messages of every state, and -j" {
    command -v fish >/dev/null || skip "fish is not installed"
    run --separate-stderr fish -c 'source $argv[1]; complete -C "mq-show "; complete -C "mq-show -"' "$COMPLETIONS/mq.fish"
    [ "$status" -eq 0 ]
    [ -z "$stderr" ]
    [[ "$output" == *"$H1"$'\t'Message* && "$output" == *"$D1"$'\t'Message* ]]
    [[ "$output" == *"-j"$'\t'"One JSON object per message"* ]]
}

@test "fish: mq-forward and mq-recv complete options, queues and password files" {
    command -v fish >/dev/null || skip "fish is not installed"
    cd "$BATS_TEST_TMPDIR"
    touch amqp.pass
    run --separate-stderr fish -c 'source $argv[1]
        complete -C "mq-forward -" | cut -f1 | sort | string join " "
        complete -C "mq-recv -" | cut -f1 | sort | string join " "
        complete -C "mq-forward o"
        complete -C "mq-forward orders "
        complete -C "mq-recv o"
        complete -C "mq-recv amqp://mq@broker/prod "
        complete -C "mq-recv amqp://mq@broker/prod orders.incoming o"
        complete -C "mq-recv -P am"' "$COMPLETIONS/mq.fish"
    [ "$status" -eq 0 ]
    [ -z "$stderr" ]
    queues=$(printf 'orders\tQueue\nother\tQueue')
    want=$(printf '%s\n' \
        "$(printf '%s\n' -d -e -h -j -L -P -r -t -V -v --drain | sort | paste -sd ' ')" \
        "$(printf '%s\n' -d -e -h -n -p -P -t -V -v --drain | sort | paste -sd ' ')" \
        "$queues" "$queues" "$queues" amqp.pass)
    [ "$output" = "$want" ] || { printf 'got:\n%s\nwant:\n%s\n' "$output" "$want"; return 1; }
}

# zsh_listing LINE: what an interactive zsh lists when TAB is pressed at the
# end of LINE, in a pseudo-terminal (zsh/zpty). The listing must have a
# heading: LINE must be ambiguous, or expect an argument that has a message.
zsh_listing() {
    cat >"$BATS_TEST_TMPDIR/listing.zsh" <<'EOF'
zmodload zsh/zpty || exit 1
zpty z zsh -f -i
zpty -w z "PS1='' PS2='' PROMPT_EOL_MARK='' COLUMNS=200"
zpty -w z "fpath=('$1' \$fpath); autoload -Uz compinit; compinit -u -D -d '$3/zcompdump'"
zpty -w z "zstyle ':completion:*' format 'GROUP:%d'; zstyle ':completion:*:messages' format 'GROUP:%d'"
zpty -w z "print RE''ADY"
zpty -r z out '*READY*' || exit 1
# the TAB alone: zle takes a TAB with more input pending as pasted text
zpty -wn z "$2"$'\t'
zpty -r z out '*GROUP:*' || exit 1
zpty -w z $'\C-u'"print E''ND"
zpty -r z rest '*END*' || exit 1
print -r -- "${out//$'\r'/}${rest//$'\r'/}" | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g'
zpty -d z
EOF
    timeout 30 zsh "$BATS_TEST_TMPDIR/listing.zsh" "$COMPLETIONS" "$1" "$BATS_TEST_TMPDIR"
}

@test "zsh: mq-forward and mq-recv complete options and the queue operand" {
    command -v zsh >/dev/null || skip "zsh is not installed"
    zsh -fc 'zmodload zsh/zpty' 2>/dev/null || skip "no zsh/zpty"
    run zsh_listing 'mq-forward -'
    [ "$status" -eq 0 ]
    for o in -d -e --drain -h -j -L -P -t -V -v; do
        [[ $output == *"$o "* ]] || { echo "mq-forward: no $o in: $output"; return 1; }
    done
    [[ $output != *"-n "* && $output != *"-p "* ]]
    run zsh_listing 'mq-recv -'
    [ "$status" -eq 0 ]
    for o in -d -e --drain -h -n -p -P -t -V -v; do
        [[ $output == *"$o "* ]] || { echo "mq-recv: no $o in: $output"; return 1; }
    done
    [[ $output != *"-j "* && $output != *"-L "* ]]
    run zsh_listing 'mq-forward o'
    [ "$status" -eq 0 ] && [[ $output == *"GROUP:queue"*orders*other* ]]
    run zsh_listing 'mq-forward orders '
    [ "$status" -eq 0 ] && [[ $output == *"GROUP:broker url"* ]]
    run zsh_listing 'mq-recv amqp://mq@broker/prod orders.incoming o'
    [ "$status" -eq 0 ] && [[ $output == *"GROUP:queue"*orders*other* ]]
    run zsh_listing 'mq-recv -p '
    [ "$status" -eq 0 ] && [[ $output == *"GROUP:prefetch"* ]]
}

@test "fish: mq-kick completes dead messages, with -s delayed the delayed ones" {
    command -v fish >/dev/null || skip "fish is not installed"
    mkdir -p "$SPOOL/orders/delayed/1732437600"
    L1=$SPOOL/orders/delayed/1732437600/1732437600.000131.l7QkT3bZ,p4,a1,s14,n1732437660
    touch "$L1"
    run --separate-stderr fish -c 'source $argv[1]; complete -C "mq-kick orders "; complete -C "mq-kick -s delayed orders "' "$COMPLETIONS/mq.fish"
    [ "$status" -eq 0 ]
    [ -z "$stderr" ]
    [ "$output" = "$(printf '%s\tMessage\n%s\tMessage' "$D1" "$L1")" ]
}

@test "zsh: mq-kick offers delayed messages with -s delayed" {
    command -v zsh >/dev/null || skip "zsh is not installed"
    grep -q "_mq_kickable" "$COMPLETIONS/_mq"
    run zsh -n "$COMPLETIONS/_mq"
    [ "$status" -eq 0 ]
}

@test "fish: mq-mv completes the messages it moves, not done, prepared or in-flight ones" {
    command -v fish >/dev/null || skip "fish is not installed"
    mkdir -p "$SPOOL/orders/done/1732437600" "$SPOOL/orders/prepared"
    touch "$SPOOL/orders/done/1732437600/1732437600.000132.d7QkT3bZ,p4,a1,s14,d1732437610" \
        "$SPOOL/orders/prepared/1732437600.000133.e7QkT3bZ,p4,a0,s14"
    run --separate-stderr fish -c 'source $argv[1]; complete -C "mq-mv other "' "$COMPLETIONS/mq.fish"
    [ "$status" -eq 0 ]
    [ -z "$stderr" ]
    [ "$output" = "$(printf '%s\tMessage' "$D1")" ]
}
