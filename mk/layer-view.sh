#!/bin/sh
# Builds the include views that enforce masktune's layering. Each library of the tree
# compiles with one -I: a folder _layers/NAME holding links to the headers of just the
# folders it may include, so an include of any other folder fails to compile.
#   layer-view.sh SRCDIR BUILDDIR NAME=ENTRY,ENTRY... ...
# An ENTRY is a folder (its *.h, not its subfolders) or one header file; headers
# generated into BUILDDIR are linked too. config.h is in every view.
set -eu
src=$1
build=$2
shift 2
root="$build/_layers"
for spec in "$@"; do
  name=${spec%%=*}
  entries=$(echo "${spec#*=}" | tr ',' ' ')
  view="$root/$name.tmp$$"
  rm -rf "$view"
  mkdir -p "$view"
  ln -s "$build/config.h" "$view/config.h"
  for e in $entries; do
    case "$e" in
    *.h) files="$e" ;;
    *) files=$( (cd "$src" && ls "$e"/*.h 2>/dev/null) ; (cd "$build" && ls "$e"/*.h 2>/dev/null) || true) ;;
    esac
    for f in $files; do
      [ -e "$view/$f" ] && continue
      mkdir -p "$view/$(dirname "$f")"
      if [ -e "$src/$f" ]; then ln -s "$src/$f" "$view/$f"; else ln -s "$build/$f" "$view/$f"; fi
    done
  done
  # Swapped in whole, so a compiler never sees a half-made view.
  rm -rf "$root/$name.old$$"
  [ ! -e "$root/$name" ] || mv "$root/$name" "$root/$name.old$$"
  mv "$view" "$root/$name"
  rm -rf "$root/$name.old$$"
done
