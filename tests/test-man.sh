#!/bin/sh
# The man page cannot drift from the program: every command of `mtrun --help` and every
# long option of every command's --help is in doc/mtrun.1, which renders without warnings.
set -u
MAN="$MT_BUILDDIR/doc/mtrun.1"
[ -f "$MAN" ] || { echo "FAIL: $MAN was not built"; exit 1; }
fail=0
for cmd in run status dot cache inspect compare report; do
  "$MTRUN" --help | grep -q "^  $cmd" || { echo "FAIL: mtrun --help lists no '$cmd'"; fail=1; }
  sed -n '/^\.SH COMMANDS/,/^\.SH OPTIONS/p' "$MAN" | grep -Eq "^\.B[IR]? \"?$cmd( |\")" ||
    { echo "FAIL: the man page's COMMANDS do not describe '$cmd'"; fail=1; }
  for opt in $("$MTRUN" "$cmd" --help | sed -n 's/^ *\(-., \)\{0,1\}--\([a-z-]*\).*/\2/p'); do
    esc=$(printf '%s' "$opt" | sed 's/-/\\\\-/g')
    grep -q -- "\\\\-\\\\-$esc" "$MAN" || { echo "FAIL: option --$opt of 'mtrun $cmd' is not in the man page"; fail=1; }
  done
done
grep -q '@[A-Z]*@' "$MAN" && { echo "FAIL: unsubstituted @VARIABLE@ in $MAN"; fail=1; }
if command -v groff >/dev/null 2>&1; then
  warnings=$(groff -man -Tutf8 -ww -z "$MAN" 2>&1)
  [ -z "$warnings" ] || { echo "FAIL: groff warns:"; echo "$warnings"; fail=1; }
else
  echo "groff not installed: rendering not checked"
fi
[ $fail = 0 ] && echo "PASS: the man page names every command and option"
exit $fail
