# fish completion for the mq tools

# Options that take a value, for the tool being completed.
function __mq_argopts
    switch (commandline -opc)[1]
        case '*mq-put'
            echo dgHkprDAT
        case '*mq-get'
            echo dnLt
        case '*mq-work'
            echo bdjkLnrt
        case '*mq-nack'
            echo dD
        case '*mq-touch'
            echo dL
        case '*mq-ls' '*mq-purge' '*mq-kick' '*mq-mv'
            echo ds
        case '*mq-release'
            echo da
        case '*mq-resolve'
            echo dt
        case '*mq-stat'
            echo dwc
        case '*mq-init'
            echo dgm
        case '*mq-fsck'
            echo dT
        case '*mq-forward'
            echo djLPt
        case '*mq-recv'
            echo dnpPt
        case '*'
            echo d
    end
end

# Print the -d value (first line, maybe empty) then the operands before the cursor.
function __mq_scan
    set -l argopts (__mq_argopts)
    set -l dir
    set -l args
    set -l want
    set -l ddash
    for w in (commandline -opc)[2..-1]
        if test -n "$want"
            test $want = d; and set dir $w
            set want
        else if test -z "$ddash"; and test "$w" = --
            set ddash 1
        else if test -z "$ddash"; and string match -qr '^-.' -- $w
            # -ab, -dDIR, -d DIR: the first option taking a value ends the word
            set -l m (string match -r "^-[^$argopts]*([$argopts])(.*)" -- $w)
            if test "$m[2]" = d
                set dir $m[3]
            end
            if set -q m[2]; and test -z "$m[3]"
                set want $m[2]
            end
        else
            set -a args $w
        end
    end
    printf '%s\n' "$dir" $args
end

# Number of operands before the cursor is $argv[1].
function __mq_nargs
    test (count (__mq_scan)) -eq (math $argv[1] + 1)
end

# The spool root: -d on the line, else $MQ_SPOOL, else the default.
function __mq_spool
    set -l d (__mq_scan)[1]
    test -n "$d"; or set d $MQ_SPOOL
    if test -z "$d"
        if test (id -u) = 0
            set d /var/spool/mq
        else if test -n "$XDG_STATE_HOME"
            set d $XDG_STATE_HOME/mq
        else
            set d $HOME/.local/state/mq
        end
    end
    string match -qr '^~(/|$)' -- $d; and set d $HOME(string sub -s 2 -- $d)
    string match -q '/*' -- $d; or set d $PWD/$d
    echo $d
end

# Queue names: directories of the spool with a valid name and a lock file.
function __mq_queues
    set -l locks (__mq_spool)/*/lock
    for f in $locks
        set -l q (string replace -r '.*/(.*)/lock$' '$1' -- $f)
        test -f $f; and string match -qr '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' -- $q; and echo $q
    end
end

function __mq_handles
    set -l files (__mq_spool)/*/inflight/*
    printf '%s\n' $files
end

# What mq-kick takes from its queue: dead messages, or with -s delayed the
# delayed ones.
function __mq_kickable
    set -l q (__mq_spool)/(__mq_scan)[2]
    set -l files $q/dead/*
    set -l prev
    for w in (commandline -opc)
        if test "$w" = -sdelayed; or begin; test "$prev" = -s; and test "$w" = delayed; end
            set files $q/delayed/*/*
        end
        set prev $w
    end
    printf '%s\n' $files
end

function __mq_holdable
    set -l s (__mq_spool)
    set -l files $s/*/ready/*/* $s/*/delayed/*/* $s/*/inflight/*
    printf '%s\n' $files
end

function __mq_messages
    set -l s (__mq_spool)
    set -l files $s/*/ready/*/* $s/*/delayed/*/* $s/*/inflight/* $s/*/dead/* $s/*/held/* $s/*/done/*/* $s/*/prepared/*
    printf '%s\n' $files
end

function __mq_removable
    set -l s (__mq_spool)
    set -l files $s/*/ready/*/* $s/*/delayed/*/* $s/*/held/* $s/*/dead/* $s/*/done/*/* $s/*/prepared/*
    printf '%s\n' $files
end

function __mq_movable
    set -l s (__mq_spool)
    set -l files $s/*/ready/*/* $s/*/delayed/*/* $s/*/held/* $s/*/dead/*
    printf '%s\n' $files
end

function __mq_done
    set -l files (__mq_spool)/*/done/*/*
    printf '%s\n' $files
end

function __mq_held
    set -l files (__mq_spool)/*/held/*
    printf '%s\n' $files
end

function __mq_prepared
    set -l files (__mq_spool)/*/prepared/*
    printf '%s\n' $files
end

# mq-recv [url amqp-queue] queue: the local queue is the first operand, or
# the third after a url.
function __mq_recv_queue
    set -l a (__mq_scan)
    test (count $a) -eq 1; and return 0
    test (count $a) -eq 3; and string match -q '*://*' -- $a[2]
end

set -l tools mq-put mq-get mq-ack mq-nack mq-touch mq-ls mq-stat mq-kick mq-purge mq-init mq-pause mq-resume mq-work mq-hold mq-release mq-rm mq-mv mq-fsck mq-sub mq-show mq-replay mq-commit mq-resolve mq-forward mq-recv
for t in $tools
    complete -c $t -s d -x -a '(__fish_complete_directories (commandline -ct))' -d 'Spool root'
    complete -c $t -s h -d 'Show usage'
    complete -c $t -s V -d 'Show version'
    test $t = mq-put; or complete -c $t -f
end
set -l states 'ready delayed inflight dead held done prepared'

complete -c mq-put -s 0 -d 'Each NUL-terminated record of stdin is a message'
complete -c mq-put -s l -d 'Each line of stdin is a message'
complete -c mq-put -s P -l prepare -d 'Prepare: publish only at mq-commit'
complete -c mq-put -s g -x -d 'Ordered group: one at a time, in put order'
complete -c mq-put -s H -x -d 'Header name=value'
complete -c mq-put -s r -x -d 'Routing key'
complete -c mq-put -s k -x -d 'Idempotency key: a second put with it is a no-op'
complete -c mq-put -s p -x -a '0 1 2 3 4 5 6 7 8 9' -d Priority
complete -c mq-put -s D -x -d 'Delay before the message is ready'
complete -c mq-put -s A -x -d 'Time when the message is ready'
complete -c mq-put -s T -x -d 'Time to live'
complete -c mq-get -s n -x -d 'Number of messages to claim'
complete -c mq-get -s L -x -d Lease
complete -c mq-get -s w -d 'Wait until a message is ready'
complete -c mq-get -s t -x -d 'Give up waiting after'
complete -c mq-work -s e -l drain -d 'Exit when nothing is ready'
complete -c mq-work -s v -d 'One line per message on stderr'
complete -c mq-work -s b -x -d 'Messages per command (-s: unsettled per command)'
complete -c mq-work -s s -d 'Stream mode: messages on the command\'s stdin'
complete -c mq-work -s t -x -d 'With -s, longest time to answer a message'
complete -c mq-work -s j -x -d 'Commands to run at once'
complete -c mq-work -s k -x -d 'Grace time after a signal'
complete -c mq-work -s L -x -d Lease
complete -c mq-work -s n -x -d 'Stop after this many messages'
complete -c mq-work -s r -x -d 'Most starts per second (N, N/s, N/m, N/h)'
complete -c mq-nack -s D -x -d 'Delay before redelivery'
complete -c mq-touch -s L -x -d 'New lease'
complete -c mq-ls -s s -x -a $states -d 'Message state'
complete -c mq-purge -s s -x -a $states -d 'Message state'
complete -c mq-stat -s j -d 'JSON output'
complete -c mq-stat -s P -d 'Prometheus text format'
complete -c mq-stat -s w -x -d 'Refresh every interval, with rates'
complete -c mq-stat -s c -x -d 'Number of refreshes'
complete -c mq-release -s a -x -a '(__mq_queues)' -d 'Release every held message of a queue'
complete -c mq-sub -s r -d 'Unsubscribe the queues, or with -b unbind'
complete -c mq-sub -s b -x -d 'Bind by a routing-key pattern'
for t in mq-forward mq-recv
    complete -c $t -s e -l drain -d 'Exit when there is nothing more to do'
    complete -c $t -s P -r -F -d 'Read the broker password from a file'
    complete -c $t -s t -x -d 'With --drain, give up on an unreachable broker after'
end
complete -c mq-forward -s v -d 'One line per forwarded message on stderr'
complete -c mq-forward -s r -d "Routing key from each message's routing-key header"
complete -c mq-forward -s j -x -d 'Messages unconfirmed at once (1-65535)'
complete -c mq-forward -s L -x -d Lease
complete -c mq-recv -s v -d 'One line per message on stderr'
complete -c mq-recv -s n -x -d 'Stop after this many messages'
complete -c mq-recv -s p -x -d 'Messages unacknowledged at once (1-65535)'

# Operands; mq-put completes files after the queue.
for t in mq-put mq-get mq-ls mq-purge mq-kick mq-work mq-forward mq-resolve
    complete -c $t -n '__mq_nargs 0' -f -a '(__mq_queues)' -d Queue
end
complete -c mq-recv -n __mq_recv_queue -a '(__mq_queues)' -d Queue
complete -c mq-stat -a '(__mq_queues)' -d Queue
complete -c mq-init -s g -x -a '(__fish_complete_groups)' -d 'Share with a group'
complete -c mq-init -s m -x -d 'Octal mode of message files'
complete -c mq-fsck -s n -d 'Check only, change nothing'
complete -c mq-fsck -s T -x -d 'Remove temporary files older than'
for t in mq-init mq-pause mq-resume mq-fsck
    complete -c $t -a '(__mq_queues)' -d Queue
end
complete -c mq-sub -n '__mq_nargs 0' -a '(__mq_queues)' -d Topic
complete -c mq-sub -n 'not __mq_nargs 0' -a '(__mq_queues)' -d Subscriber
complete -c mq-work -n '__mq_nargs 1' -a '(__fish_complete_command)' -d Command
complete -c mq-work -n 'not __mq_nargs 0; and not __mq_nargs 1' -F
complete -c mq-resolve -s v -d 'One line per answer'
complete -c mq-resolve -s w -d 'Keep watching'
complete -c mq-resolve -s t -x -d 'Kill a checker after'
complete -c mq-resolve -n '__mq_nargs 1' -a '(__fish_complete_command)' -d Command
complete -c mq-resolve -n 'not __mq_nargs 0; and not __mq_nargs 1' -F
for t in mq-ack mq-nack mq-touch
    complete -c $t -a '(__mq_handles)' -d Handle
end
complete -c mq-kick -s s -x -a 'dead delayed' -d 'Take messages from'
complete -c mq-kick -n 'not __mq_nargs 0' -a '(__mq_kickable)' -d Message
complete -c mq-hold -a '(__mq_holdable)' -d Handle
complete -c mq-release -a '(__mq_held)' -d 'Held message'
complete -c mq-show -s j -d 'One JSON object per message'
complete -c mq-show -a '(__mq_messages)' -d Message
complete -c mq-rm -a '(__mq_removable)' -d Message
complete -c mq-replay -s a -d 'Replay a range of a queue'
complete -c mq-replay -s S -x -d 'Acknowledged at or after (time, or duration ago)'
complete -c mq-replay -s U -x -d 'Acknowledged at or before (time, or duration ago)'
complete -c mq-replay -s t -x -a '(__mq_queues)' -d 'Replay into this queue'
complete -c mq-replay -n '__fish_contains_opt -s a' -a '(__mq_queues)' -d Queue
complete -c mq-replay -n 'not __fish_contains_opt -s a' -a '(__mq_done)' -d 'Done message'
complete -c mq-commit -a '(__mq_prepared)' -d 'Prepared message'
complete -c mq-mv -s a -d 'Move every message of a state of a queue'
complete -c mq-mv -s s -x -a 'ready delayed held dead' -d 'With -a, the state to move'
complete -c mq-mv -n '__mq_nargs 0' -a '(__mq_queues)' -d Queue
complete -c mq-mv -n '__mq_nargs 1; and __fish_seen_argument -s a' -a '(__mq_queues)' -d 'Destination queue'
complete -c mq-mv -n 'not __mq_nargs 0; and not __fish_seen_argument -s a' -a '(__mq_movable)' -d Message
