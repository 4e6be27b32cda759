# mq: make fish find the completions that make install put under a prefix
# fish does not search (Debian's fish 3.6 looks only in /usr/share and
# ~/.local/share unless XDG_DATA_DIRS is set).  Installed by make install
# into fish's conf.d with @DIR@ filled in.
set -l d @DIR@
if not contains -- $d $fish_complete_path
    # ahead of fish's own completions and those generated from manuals
    set -l i (contains -i -- $__fish_data_dir/completions $fish_complete_path)
    if test -n "$i" -a "$i" -gt 1
        set fish_complete_path $fish_complete_path[1..(math $i - 1)] $d \
            $fish_complete_path[$i..-1]
    else
        set -a fish_complete_path $d
    end
end
