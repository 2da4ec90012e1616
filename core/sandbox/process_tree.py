"""Shell snippets that run inside a container around every command we execute there.

They use only POSIX ``sh`` builtins (``read``, ``kill``, ``printf``) because the environments we run in
are broken on purpose: coreutils, procps or Python may be missing or corrupted.
"""

from __future__ import annotations

# Prints our PID on stderr (a marker the host strips), then replaces itself with the user's shell, so the
# PID we report is the root of the command's process tree.
EXEC_WRAPPER = 'printf "\\036cligym-pid:%s\\036" "$$" >&2; exec "$1" -c "$2"'

# Freezes, then kills, the process with PID $1 and all its descendants. /proc/PID/task/*/children is not
# available on every kernel (gVisor lacks it), so parents are read from /proc/PID/stat: the fields after
# the last ") " are state, ppid, ...; the command name in parentheses may itself contain spaces.
KILL_TREE = r"""
tree="$1"
collect() {
  changed=1
  while [ "$changed" = 1 ]; do
    changed=0
    for dir in /proc/[0-9]*; do
      pid=${dir#/proc/}
      case " $tree " in *" $pid "*) continue ;; esac
      read -r stat 2>/dev/null < "$dir/stat" || continue
      set -- ${stat##*) }
      case " $tree " in *" $2 "*) tree="$tree $pid"; changed=1 ;; esac
    done
  done
}
collect
kill -STOP $tree 2>/dev/null
collect
kill -KILL $tree 2>/dev/null
# Docker makes the exec process a group leader; the group catches children that were reparented already.
kill -KILL -"$1" 2>/dev/null
exit 0
"""
