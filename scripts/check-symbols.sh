#!/usr/bin/env bash
# Checks the public C interface against the library and the manual.
#
# Usage: scripts/check-symbols.sh [build-dir]     (default: build/dev)
#
# Installs the build into a scratch prefix, reads the C headers installed
# there (<prefix>/include/*.h, as a client sees them, preprocessed as C99
# with the C library's headers stubbed out so that only the interface's own
# declarations remain) and lists every identifier they declare or define:
#   functions and objects declared `extern` (the key objects behind the
#   MPS_KEY_* macros among them), types, enumerators, and macros.
# Then it fails if
#   * a function or object has no definition exported by the installed
#     static library (nm) or shared library (nm -D);
#   * a public name (one not starting with `_`: functions, objects, types,
#     enumerators, macros other than include guards) is mentioned nowhere
#     in manual/reference/*.md;
#   * the shared library exports a C symbol of the interface's prefixes
#     (mps_, _mps_, MPS) that no header declares and no reference page
#     mentions (MPSVersion, say: the library exports it undeclared, as MPS
#     does, so clients learn of it from the manual only).
# Private names (`_mps_...`) need a definition but no page: clients reach
# them only through macros.
#
# Needs cc, nm, awk, grep and cmake; takes a few seconds. Run by .ci/run
# after the dev build and by ctest (test `symbols.check`).
set -euo pipefail
export LC_ALL=C  # sort and comm must agree on the order

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build/dev}"
cmake_cmd="${CMAKE_COMMAND:-cmake}"
cc_cmd="${CC:-cc}"
# CHECK_SYMBOLS_MANUAL: another reference directory (the checker's own test).
manual="${CHECK_SYMBOLS_MANUAL:-$root/manual/reference}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"

die() { printf 'check-symbols: %s\n' "$*" >&2; exit 2; }

"$cmake_cmd" --install "$build" --prefix "$prefix" >"$work/install.log" 2>&1 ||
  { cat "$work/install.log" >&2; die "cmake --install $build failed (is it built?)"; }
incdir="$prefix/include"
libdir="$(dirname "$(find "$prefix" -name 'libmps.a' -print -quit)")"
if [ ! -f "$libdir/libmps.a" ] || [ ! -e "$libdir/libmps.so" ]; then
  die "libmps.a or libmps.so not installed"
fi
headers=("$incdir"/*.h)
[ -e "${headers[0]}" ] || die "no C headers in $incdir"

# The C library's headers, empty: their declarations are not the interface.
mkdir -p "$work/stub"
for h in stddef.h stdarg.h limits.h; do : >"$work/stub/$h"; done

# Every header, preprocessed as C (so no extern "C" wrappers), one after
# another, then split into top-level statements (a `;` outside braces ends
# one), each on a line with its white space collapsed.
{
  for h in "${headers[@]}"; do printf '#include "%s"\n' "$(basename "$h")"; done
} >"$work/all.c"
"$cc_cmd" -E -P -std=c99 -nostdinc -I"$work/stub" -I"$incdir" "$work/all.c" >"$work/all.i" ||
  die "the installed headers do not preprocess"
tr '\n\t' '  ' <"$work/all.i" | awk '
  {
    text = $0; depth = 0; start = 1; n = length(text)
    for (i = 1; i <= n; i++) {
      c = substr(text, i, 1)
      if (c == "{") depth++
      else if (c == "}") depth--
      else if (c == ";" && depth == 0) {
        s = substr(text, start, i - start); start = i + 1
        gsub(/ +/, " ", s); sub(/^ /, "", s); sub(/ $/, "", s)
        if (s != "") print s
      }
    }
  }' >"$work/statements"

# Classifies each statement: "function NAME", "object NAME", "type NAME",
# "enumerator NAME".
awk '
  function lastIdent(s) {
    sub(/[ )]*$/, "", s)
    if (match(s, /[A-Za-z_][A-Za-z0-9_]*$/)) return substr(s, RSTART, RLENGTH)
    return ""
  }
  # s without its trailing balanced (...) group.
  function dropParams(s,    i, depth, c) {
    depth = 0
    for (i = length(s); i > 0; i--) {
      c = substr(s, i, 1)
      if (c == ")") depth++
      else if (c == "(" && --depth == 0) return substr(s, 1, i - 1)
    }
    return s
  }
  function enumerators(s,    body, parts, k, e) {
    body = s; sub(/^[^{]*\{/, "", body); sub(/\}.*$/, "", body)
    k = split(body, parts, ",")
    for (e = 1; e <= k; e++) {
      sub(/=.*/, "", parts[e]); gsub(/ /, "", parts[e])
      if (parts[e] != "") print "enumerator " parts[e]
    }
  }
  /^extern / {
    s = $0; sub(/^extern /, "", s)
    if (s ~ /\)$/) print "function " lastIdent(dropParams(s))
    else { sub(/ *\[[^]]*\]$/, "", s); print "object " lastIdent(s) }
    next
  }
  /^typedef / {
    if (index($0, "{") && $0 ~ /^typedef enum/) enumerators($0)
    if (match($0, /\(\* *[A-Za-z_][A-Za-z0-9_]*/)) {
      t = substr($0, RSTART, RLENGTH); sub(/^\(\* */, "", t); print "type " t
    } else { s = $0; sub(/ *\[[^]]*\]$/, "", s); print "type " lastIdent(s) }
    next
  }
  /^enum *\{/ { enumerators($0); next }
  { print "unclassified " $0 }
' "$work/statements" | sort -u >"$work/declared"

# Macros: those the headers define (on this platform: mpstd.h picks one
# set), less include guards.
grep -hoE '^[[:space:]]*#[[:space:]]*define[[:space:]]+[A-Za-z_][A-Za-z0-9_]*' "${headers[@]}" |
  awk '{print $NF}' | sed 's/.*define[[:space:]]*//' | sort -u >"$work/macro-names"
"$cc_cmd" -E -dM -std=c99 -nostdinc -I"$work/stub" -I"$incdir" "$work/all.c" |
  awk '{print $2}' | sed 's/(.*//' | sort -u >"$work/defined-macros"
comm -12 "$work/macro-names" "$work/defined-macros" | grep -v '_h$' | sed 's/^/macro /' \
  >>"$work/declared"
sort -u -o "$work/declared" "$work/declared"

failures=0
fail() { printf 'check-symbols: %s\n' "$*"; failures=$((failures + 1)); }

if grep -q '^unclassified ' "$work/declared"; then
  grep '^unclassified ' "$work/declared" | sed 's/^unclassified /  /' | head -20
  fail "statements the checker cannot classify (extend scripts/check-symbols.sh)"
fi

# Definitions.
nm -g --defined-only "$libdir/libmps.a" 2>/dev/null | awk 'NF == 3 && $2 ~ /^[TWDBRVGSi]$/ {print $3}' |
  sort -u >"$work/static-syms"
nm -D --defined-only "$libdir/libmps.so" | awk 'NF == 3 && $2 ~ /^[TWDBRVGSi]$/ {print $3}' |
  sort -u >"$work/shared-syms"
externs=0
while read -r kind name; do
  case "$kind" in function | object) ;; *) continue ;; esac
  externs=$((externs + 1))
  grep -qxF -- "$name" "$work/static-syms" || fail "$kind $name: not defined in libmps.a"
  grep -qxF -- "$name" "$work/shared-syms" || fail "$kind $name: not exported by libmps.so"
done <"$work/declared"

# Documentation: every public name in some reference page.
cat "$manual"/*.md >"$work/manual.txt"
public=0
while read -r kind name; do
  [ "$kind" = unclassified ] && continue
  case "$name" in _*) continue ;; esac
  public=$((public + 1))
  grep -qwF -- "$name" "$work/manual.txt" || fail "$kind $name: mentioned in no manual/reference page"
done <"$work/declared"

# Exported but undeclared.
awk '{print $2}' "$work/declared" | sort -u >"$work/declared-names"
undeclared=0
while read -r name; do
  undeclared=$((undeclared + 1))
  grep -qwF -- "$name" "$work/manual.txt" ||
    fail "$name: exported by libmps.so, declared in no header and mentioned in no reference page"
done < <(grep -E '^(mps_|_mps_|MPS)' "$work/shared-syms" | comm -23 - "$work/declared-names")

printf 'check-symbols: %d headers; %d functions and objects, %d public names, %d exported undeclared names: ' \
  "${#headers[@]}" "$externs" "$public" "$undeclared"
if ((failures)); then
  printf '%d failures\n' "$failures"
  exit 1
fi
echo ok
