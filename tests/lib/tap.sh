# SPDX-License-Identifier: GPL-2.0
#
# tap.sh - TAP 13 for the shell test runners (tests/run.sh and the
# run_guest.sh scripts): numbered results, their counts, the failures
# for a summary, and the folding of another runner's TAP into ours.
# Sourced, not run; needs bash.
#
# Results are "ok N<TAP_SEP>DESC" and "not ok N<TAP_SEP>DESC". TAP_SEP is
# " - " unless the runner set it first (kselftest's style is " ").
#
#   tap_ok DESC               a pass
#   tap_not_ok DESC           a failure, remembered in TAP_FAIL_LIST
#   tap_skip DESC [REASON]    "ok N DESC # SKIP REASON"
#   tap_check DESC RC [FILE]  tap_ok if RC is 0, else tap_not_ok and the
#                             end of FILE as diagnostics
#   tap_diag FILE [LINES]     the last LINES (30) of FILE as diagnostics
#   tap_plan                  "1..N" for the results so far
#   tap_fold PREFIX FILE      another runner's results, renumbered
#
# TAP_NUM, TAP_PASSED, TAP_FAILED and TAP_SKIPPED count the results.

# shellcheck shell=bash
# shellcheck disable=SC2034 # the TAP_FOLD_* results are the caller's

TAP_NUM=0
TAP_PASSED=0
TAP_FAILED=0
TAP_SKIPPED=0
TAP_FAIL_LIST=()
TAP_SEP=${TAP_SEP-" - "}

# tap_result STATUS DESC: print result number TAP_NUM + 1, count nothing.
tap_result()
{
	TAP_NUM=$((TAP_NUM + 1))
	echo "$1 $TAP_NUM$TAP_SEP$2"
}

tap_ok()
{
	TAP_PASSED=$((TAP_PASSED + 1))
	tap_result ok "$*"
}

tap_not_ok()
{
	TAP_FAILED=$((TAP_FAILED + 1))
	tap_result "not ok" "$*"
	TAP_FAIL_LIST+=("not ok $TAP_NUM$TAP_SEP$*")
}

tap_skip()
{
	TAP_SKIPPED=$((TAP_SKIPPED + 1))
	tap_result ok "$1 # SKIP${2:+ $2}"
}

tap_diag()
{
	[ -s "$1" ] || return 0
	tail -n "${2:-30}" "$1" | sed 's/^/#   /'
}

tap_check()
{
	if [ "$2" -eq 0 ]; then
		tap_ok "$1"
	else
		tap_not_ok "$1"
		[ -z "${3:-}" ] || tap_diag "$3"
	fi
}

tap_plan()
{
	echo "1..$TAP_NUM"
}

# tap_fold PREFIX FILE: the TAP stream of another runner in FILE, into
# ours. Every top-level result ("ok", "not ok", numbered or not, with or
# without " - ") is renumbered and its description prefixed with PREFIX;
# SKIP and TODO results count as skipped, "Bail out!" as a failure.
#
# Diagnostics ("#" lines): TAP_FOLD_DIAG may name a function that gets
# each first and returns 0 when it took care of it. The others are copied
# as they come, and so are other lines, as "# " diagnostics, and the plan
# as "# PREFIXplan 1..N"; with TAP_FOLD_QUIET=1 only the last 20 "#"
# lines before a failure are printed, under it.
#
# Sets TAP_FOLD_RESULTS (results folded), TAP_FOLD_FAILED (of them
# failed), TAP_FOLD_PLAN (the plan's count, empty without a plan) and
# TAP_FOLD_PLAN_REST (what followed it, e.g. "# SKIP why").
tap_fold()
{
	local prefix=$1 file=$2 line status desc
	local quiet=${TAP_FOLD_QUIET:-0} recent=()

	TAP_FOLD_RESULTS=0
	TAP_FOLD_FAILED=0
	TAP_FOLD_PLAN=
	TAP_FOLD_PLAN_REST=
	while IFS= read -r line; do
		if [[ $line == \#* ]]; then
			[ -n "${TAP_FOLD_DIAG:-}" ] && "$TAP_FOLD_DIAG" "$line" &&
				continue
			if [ "$quiet" = 1 ]; then
				recent+=("$line")
				[ ${#recent[@]} -le 20 ] || recent=("${recent[@]:1}")
			else
				echo "$line"
			fi
		elif [[ $line =~ ^(not\ ok|ok)([[:space:]]+[0-9]+)?([[:space:]]+-)?[[:space:]]*(.*)$ ]]; then
			status=${BASH_REMATCH[1]}
			desc=$prefix${BASH_REMATCH[4]}
			TAP_FOLD_RESULTS=$((TAP_FOLD_RESULTS + 1))
			if [[ $desc =~ \#[[:space:]]*[Ss][Kk][Ii][Pp] ]]; then
				TAP_SKIPPED=$((TAP_SKIPPED + 1))
				tap_result ok "$desc"
			elif [[ $desc =~ \#[[:space:]]*[Tt][Oo][Dd][Oo] ]]; then
				TAP_SKIPPED=$((TAP_SKIPPED + 1))
				tap_result "$status" "$desc"
			elif [ "$status" = ok ]; then
				tap_ok "$desc"
			else
				TAP_FOLD_FAILED=$((TAP_FOLD_FAILED + 1))
				tap_not_ok "$desc"
				[ ${#recent[@]} -eq 0 ] || printf '#   %s\n' "${recent[@]}"
			fi
			recent=()
		elif [[ $line =~ ^Bail\ out! ]]; then
			tap_not_ok "$prefix$line"
		elif [[ $line =~ ^1\.\.([0-9]+)(.*)$ ]]; then
			TAP_FOLD_PLAN=${BASH_REMATCH[1]}
			TAP_FOLD_PLAN_REST=${BASH_REMATCH[2]}
			[ "$quiet" = 1 ] || echo "# ${prefix}plan $line"
		elif [[ $line =~ ^TAP\ version ]]; then
			:
		elif [ "$quiet" != 1 ]; then
			echo "# $line"
		fi
	done <"$file"
}
