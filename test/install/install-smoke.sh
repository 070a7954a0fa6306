#!/usr/bin/env bash
# Packaging smoke test, run by ctest (test/install/CMakeLists.txt sets SMOKE_*).
# Installs the build into a scratch prefix and builds and runs smoke.c against it
# three ways: plain -lmps (shared), pkg-config (static), find_package(mps); then
# builds and runs examples/gc_weak.c (AWL weak tables, finalization and
# location dependencies together) against the installed headers and library,
# and runs the installed telemetry converter, mps-events.
set -euo pipefail

: "${SMOKE_BUILD_DIR:?}" "${SMOKE_WORK_DIR:?}" "${SMOKE_SOURCE_DIR:?}" "${SMOKE_CMAKE:?}"
: "${SMOKE_CC:?}" "${SMOKE_CXX:?}" "${SMOKE_PKG_CONFIG:?}" "${SMOKE_LIBDIR:=lib}" "${SMOKE_INCLUDEDIR:=include}"
read -r -a san <<<"${SMOKE_SANITIZE:-}"   # e.g. -fsanitize=address,undefined, or nothing

work="$SMOKE_WORK_DIR"
prefix="$work/prefix"
libdir="$prefix/$SMOKE_LIBDIR"
incdir="$prefix/$SMOKE_INCLUDEDIR"
src="$SMOKE_SOURCE_DIR/smoke.c"

step() { printf '\n== install-smoke: %s\n' "$*"; }
die() { printf 'install-smoke: FAIL: %s\n' "$*" >&2; exit 1; }
# expect_ok <program>: runs it and insists that it prints exactly "ok".
expect_ok() {
  local out
  out="$("$@")" || die "$1 exited with status $?"
  [ "$out" = "ok" ] || die "$1 printed '$out', expected 'ok'"
  echo "$1: ok"
}

rm -rf "$work"
mkdir -p "$work"

step "cmake --install $SMOKE_BUILD_DIR --prefix $prefix"
"$SMOKE_CMAKE" --install "$SMOKE_BUILD_DIR" --prefix "$prefix" >"$work/install.log" \
  || { cat "$work/install.log"; die "cmake --install failed (is the project built?)"; }
for f in "$libdir/libmps.so" "$libdir/libmps.a" "$incdir/mps.h" "$incdir/mpsavm.h" \
         "$incdir/mpscmvff.h" "$incdir/mpscmvt.h" "$incdir/mpscmv2.h" "$incdir/mpscawl.h" \
         "$incdir/mpscamc.h" "$libdir/cmake/mps/mpsConfig.cmake" \
         "$libdir/cmake/mps/mpsConfigVersion.cmake" "$libdir/pkgconfig/mps.pc"; do
  [ -e "$f" ] || die "not installed: $f"
done
find "$prefix" -type f -o -type l | sed "s|^$prefix/|  |" | sort

step "libmps.so carries its own dependencies"
deps="$(ldd "$libdir/libmps.so")"
sed 's/^/  /' <<<"$deps"
! grep -q "not found" <<<"$deps" || die "libmps.so has unresolved dependencies"
grep -q "libstdc++" <<<"$deps" || die "libmps.so does not link libstdc++"

step "1. cc -I<prefix>/include smoke.c -L<prefix>/lib -lmps (shared)"
"$SMOKE_CC" "${san[@]}" -I"$incdir" "$src" -L"$libdir" -lmps -o "$work/smoke_shared"
grep -q "libmps.so" <<<"$(ldd "$work/smoke_shared")" || die "smoke_shared is not linked to libmps.so"
LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" expect_ok "$work/smoke_shared"

step "2. cc smoke.c \$(pkg-config --cflags --libs mps) (static)"
export PKG_CONFIG_PATH="$libdir/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
sed 's/^/  /' "$libdir/pkgconfig/mps.pc"
pc_flags="$("$SMOKE_PKG_CONFIG" --cflags --libs mps)" || die "pkg-config --cflags --libs mps failed"
echo "  pkg-config --cflags --libs mps: $pc_flags"
# shellcheck disable=SC2086  # the flags are meant to split
"$SMOKE_CC" "$src" $pc_flags -o "$work/smoke_static"
! grep -q "libmps.so" <<<"$(ldd "$work/smoke_static")" || die "smoke_static is linked to libmps.so, not libmps.a"
expect_ok "$work/smoke_static"

step "3. find_package(mps) from a CMake project"
gen=()
[ -n "${SMOKE_GENERATOR:-}" ] && gen=(-G "$SMOKE_GENERATOR")
[ -n "${SMOKE_MAKE_PROGRAM:-}" ] && gen+=(-DCMAKE_MAKE_PROGRAM="$SMOKE_MAKE_PROGRAM")
"$SMOKE_CMAKE" -S "$SMOKE_SOURCE_DIR/consumer" -B "$work/consumer" "${gen[@]}" \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$SMOKE_CC" -DCMAKE_BUILD_TYPE=Release \
  -DSMOKE_SOURCE="$src" >"$work/consumer.log" 2>&1 \
  || { cat "$work/consumer.log"; die "configuring the find_package(mps) project failed"; }
grep "mps .* from" "$work/consumer.log" | sed 's/^/  /'
grep -q "mps_DIR:PATH=$prefix/" "$work/consumer/CMakeCache.txt" \
  || die "find_package(mps) did not find the package in $prefix"
"$SMOKE_CMAKE" --build "$work/consumer" >>"$work/consumer.log" 2>&1 \
  || { cat "$work/consumer.log"; die "building the find_package(mps) project failed"; }
expect_ok "$work/consumer/smoke_cmake_shared"
expect_ok "$work/consumer/smoke_cmake_static"

step "4. examples/gc_weak.c (AWL, finalization, location dependencies) against the installed package"
weak_src="$SMOKE_SOURCE_DIR/../../examples/gc_weak.c"
# shellcheck disable=SC2086  # the flags are meant to split
"$SMOKE_CC" "${san[@]}" -std=c99 -I"$incdir" "$weak_src" -L"$libdir" -lmps -o "$work/gc_weak" \
  || die "examples/gc_weak.c does not build against the installed headers"
LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$work/gc_weak" >"$work/gc_weak.log" \
  || { cat "$work/gc_weak.log"; die "gc_weak exited with status $?"; }
tail -n 1 "$work/gc_weak.log" | sed 's/^/  /'
grep -q "all checks passed" "$work/gc_weak.log" || die "gc_weak did not pass its checks"

step "5. the installed converter: $prefix/bin/mps-events"
events="$prefix/bin/mps-events"
[ -x "$events" ] || die "not installed: $events"
"$events" --help | grep -q "usage: mps-events" || die "mps-events --help printed no usage"
"$events" --version | sed 's/^/  /'
printf 'not a stream at all' >"$work/junk.mpsev"
status=0
msg="$("$events" check "$work/junk.mpsev" 2>&1)" || status=$?
[ "$status" -eq 1 ] || die "mps-events check on junk exited $status, expected 1"
grep -q "offset 0: not an MPS++ event stream" <<<"$msg" || die "mps-events said: $msg"
echo "  junk refused: $msg"
MPS_TELEMETRY_CONTROL=all MPS_TELEMETRY_FILENAME="$work/smoke.mpsevents" \
  LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" expect_ok "$work/smoke_shared"
"$events" check "$work/smoke.mpsevents" | sed 's/^/  /' \
  || die "mps-events finds smoke_shared's telemetry stream unsound"
"$events" html -o "$work/smoke.html" "$work/smoke.mpsevents" || die "mps-events html failed"
grep -q 'id="event-counts"' "$work/smoke.html" || die "the report of smoke_shared's stream is incomplete"

shopt -s nullglob globstar
hpps=("$incdir"/mps/**/*.hpp)
if ((${#hpps[@]})); then
  step "installed C++ headers compile on their own"
  for h in "${hpps[@]}"; do
    rel="${h#"$incdir"/}"
    printf '#include <%s>\n' "$rel" | "$SMOKE_CXX" -std=c++20 -fsyntax-only -x c++ -I"$incdir" - \
      || die "installed header <$rel> does not compile on its own"
    echo "  <$rel>"
  done
fi

step "passed"
