#!/bin/sh
# valgrind.sh BIN OUT - in OUT, one wrapper per tool of BIN that runs it
# under valgrind: any memory error or definite leak makes it exit 99, which
# no test expects, so the test fails.
set -eu
bin=$1 out=$2
mkdir -p "$out"
for t in "$bin"/mq-*; do
	n=${t##*/}
	cat >"$out/$n.tmp" <<-W
	#!/bin/sh
	exec valgrind -q --error-exitcode=99 --leak-check=full \\
	    --errors-for-leak-kinds=definite --show-leak-kinds=definite \\
	    "$t" "\$@"
	W
	chmod +x "$out/$n.tmp"
	mv "$out/$n.tmp" "$out/$n"
done
