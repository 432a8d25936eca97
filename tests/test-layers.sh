#!/bin/sh
# The layering rule, enforced by the build: every library compiles with the include view
# of its folder (mk/layer-view.sh). For each view and each folder of the tree, one of
# the folder's headers must compile exactly when the rule allows that include.
#   tools -> graph -> runtime -> formats -> base;  nodes -> runtime, ml, formats, base;
#   ml -> formats, base;  ml/cpu and ml/cuda only through ml/mt-backend.h (and base).
# Also: includes are written with their folder, never relative ("../x.h", "cpu/x.h").
set -eu
: "${MT_LAYERS_DIR:?run through make check}" "${MT_SRCDIR:?}" "${MT_CC:?}"
allowed () {
  case "$1" in
  base) echo "base" ;;
  formats) echo "base formats" ;;
  ml) echo "base formats ml" ;;
  ml-cpu) echo "base ml ml/cpu" ;;
  ml-cuda) echo "base ml ml/cuda" ;;
  runtime) echo "base formats runtime" ;;
  graph) echo "base runtime graph" ;;
  nodes) echo "base formats ml runtime nodes" ;;
  tools) echo "base formats ml runtime graph tools" ;;
  esac
}
# One header per folder that stands on its own.
probe () {
  case "$1" in
  base) echo base/mt-tensor.h ;;
  formats) echo formats/mt-npy.h ;;
  ml) echo ml/mt-model.h ;;
  ml/cpu) echo ml/cpu/mt-ops.h ;;
  ml/cuda) echo ml/cuda/mt-cuda.h ;;
  runtime) echo runtime/mt-node.h ;;
  graph) echo graph/mt-parser.h ;;
  nodes) echo nodes/mt-trainer.h ;;
  tools) echo tools/mtrun.h ;;
  esac
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
checked=0
for view in base formats ml ml-cpu ml-cuda runtime graph nodes tools; do
  ok=$(allowed "$view")
  for folder in base formats ml ml/cpu ml/cuda runtime graph nodes tools; do
    h=$(probe "$folder")
    printf '#include "%s"\n' "$h" > "$tmp/probe.c"
    want=no
    for a in $ok; do [ "$a" = "$folder" ] && want=yes; done
    # The headers a folder's header includes must be allowed too, so a probe of an
    # allowed folder compiles only if the rule holds transitively.
    if $MT_CC -fsyntax-only -I"$MT_LAYERS_DIR/$view" $MT_GLIB_CFLAGS "$tmp/probe.c" >"$tmp/log" 2>&1; then got=yes; else got=no; fi
    checked=$((checked + 1))
    if [ "$want" != "$got" ]; then
      echo "FAIL: view $view, #include \"$h\": expected $( [ $want = yes ] && echo success || echo failure), got $( [ $got = yes ] && echo success || echo failure)"
      cat "$tmp/log"
      fail=1
    fi
  done
done
# Includes of the tree's own headers are written with their folder.
bad=$(cd "$MT_SRCDIR" && grep -n '#include "' base/*.[ch] formats/*.[ch] ml/*.[ch] ml/cpu/*.[ch] ml/cuda/*.[ch] \
        runtime/*.[ch] graph/*.[ch] nodes/*.[ch] tools/*.[ch] include/*.h |
      grep -v -E '#include "(config\.h|(base|formats|ml|ml/cpu|ml/cuda|runtime|graph|nodes|tools)/mt[a-z-]*\.h|include/masktune\.h)"' || true)
if [ -n "$bad" ]; then
  echo "FAIL: includes not written as \"folder/header.h\":"
  echo "$bad"
  fail=1
fi
[ "$fail" -eq 0 ] || { echo "0 passed, 1 failed"; exit 1; }
echo "layering: $checked view x folder includes as the rule says; every include written with its folder"
echo "1 passed, 0 failed"
