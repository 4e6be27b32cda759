#!/bin/sh
# layers.sh OBJDIR - check that lib/ keeps its layers (lib/README): every
# call from one file of lib/ to another goes to a file of a lower layer,
# or of its own layer listed before it.  Read from the objects' symbol
# tables (nm), not the source.  Prints each call that breaks the rule,
# and exits 1 if there is one.
d=${1:?usage: layers.sh OBJDIR}
readme=${LAYERS_README:-$(dirname "$0")/../lib/README}
src=$(dirname "$0")/../lib
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
# file rank: "layer N: a b c" lines of lib/README, in order
awk '/^layer [0-9]+:/ { l = $2 + 0; for (i = 3; i <= NF; i++) print $i, l, ++k }' \
    "$readme" >"$tmp/rank"
# the objects of lib/'s sources only: an old build may hold others
objs=
for o in "$d"/*.o; do
	[ -e "$src/$(basename "$o" .o).c" ] && objs="$objs $o"
done
for o in $objs; do
	f=$(basename "$o" .o)
	grep -q "^$f " "$tmp/rank" || { echo "$f: in no layer of lib/README" >&2; echo x >"$tmp/bad"; }
	nm --defined-only -g "$o" | awk -v f="$f" 'NF == 3 { print $3, f }'
done | sort >"$tmp/defs"
for o in $objs; do
	f=$(basename "$o" .o)
	nm -u "$o" | awk '{ print $2 }' | sort -u | join - "$tmp/defs" |
	    awk -v f="$f" '$2 != f { print f, $2, $1 }'
done >"$tmp/calls"
awk 'NR == FNR { layer[$1] = $2; pos[$1] = $3; next }
{
	a = $1; b = $2
	if (layer[b] > layer[a] || (layer[b] == layer[a] && pos[b] > pos[a])) {
		printf "%s (layer %d) calls %s of %s (layer %d)\n", a, layer[a], $3, b, layer[b]
		bad = 1
	}
}
END { exit bad }' "$tmp/rank" "$tmp/calls" || echo x >"$tmp/bad"
[ ! -e "$tmp/bad" ]
