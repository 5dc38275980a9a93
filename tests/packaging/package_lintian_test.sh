#!/usr/bin/env bash
# lintian finds no errors in the package; every tag it prints is shown.
source "$(dirname "$0")/common.sh"
# lintian refuses to run as root without this (it unpacks untrusted input).
output=$(lintian --allow-root --fail-on error --display-info "$deb" 2>&1) && status=0 || status=$?
[[ -n "$output" ]] && echo "$output"
[[ $status -eq 0 ]] || fail "lintian reports errors (exit $status)"
if grep -q '^E:' <<<"$output"; then fail "lintian printed an error tag"; fi
pass "lintian: no errors ($(grep -c '^W:' <<<"$output" || true) warnings)"
