"""Per-unit attribution of an strace log (real logs come from the gold builds in test_other_runners.py; here the
rules on lines as strace -f -ttt prints them)."""

from __future__ import annotations

from cligym.generation.gold.probe_units import per_unit_probe

LOG = """\
100 1.0 execve("/bin/sh", ["/bin/sh", "-c", "make check"], 0x7ffd /* 9 vars */) = 0
100 1.1 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|SIGCHLD, child_tidptr=0x7f) = 101
101 1.2 execve("/usr/bin/make", ["make", "check"], 0x55 /* 9 vars */) = 0
101 1.3 openat(AT_FDCWD, "Makefile", O_RDONLY) = 3
101 1.4 chdir("tests") = 0
101 1.5 vfork( <unfinished ...>
102 1.6 execve("/bin/bash", ["/bin/bash", "../build-aux/test-driver", "--test-name", "zdiff", "./zdiff"], 0x1) = 0
101 1.7 <... vfork resumed>) = 102
102 1.8 openat(AT_FDCWD, "../build-aux/test-driver", O_RDONLY) = 3
102 1.9 clone3({flags=CLONE_VM, exit_signal=SIGCHLD}, 88) = 103
103 2.0 execve("/usr/bin/diff", ["diff", "a", "b"], 0x1 /* 9 vars */) = 0
103 2.1 openat(AT_FDCWD, "/lib/x86_64-linux-gnu/libc.so.6", O_RDONLY|O_CLOEXEC) = 3
103 2.2 openat(AT_FDCWD, "zdiff.log", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 4
101 2.3 clone(child_stack=NULL, flags=SIGCHLD) = 104
104 2.4 execve("/repo/build/tests/test1.test", ["/repo/tests/test1.test"], 0x1 /* 9 vars */) = 0
104 2.5 openat(AT_FDCWD, "/etc/missing", O_RDONLY) = -1 ENOENT (No such file or directory)
101 2.6 execve("/usr/bin/sed", ["sed", "-n", "/list.gz/p"], 0x1 /* 9 vars */) = 0
"""


def test_units_are_the_processes_naming_a_test_and_their_children() -> None:
    probe = per_unit_probe(LOG, ["zdiff", "test1", "list"], "/repo")
    contexts = probe.contexts
    assert contexts["zdiff"].executables == ["/bin/bash", "/usr/bin/diff"]
    assert contexts["zdiff"].libraries == ["/lib/x86_64-linux-gnu/libc.so.6"]
    # Relative paths resolve against the process's directory (make changed into tests/); what is written is out.
    assert contexts["zdiff"].files == ["/repo/build-aux/test-driver"]
    assert contexts["test1"].executables == ["/repo/build/tests/test1.test"] and contexts["test1"].files == []
    # The runner's own doing is the session's; a path merely containing a test's name names no unit.
    assert contexts[""].executables == ["/usr/bin/make", "/usr/bin/sed"]
    assert contexts[""].files == ["/repo/Makefile"]
    assert "list" not in contexts


MISSING_LOG = """\
200 1.0 execve("/bin/sh", ["/bin/sh", "-c", "cd build && ctest"], 0x7ffd /* 9 vars */) = 0
200 1.1 chdir("/repo/build") = 0
200 1.2 access("CTestCustom.cmake", R_OK) = -1 ENOENT (No such file or directory)
200 1.3 statx(AT_FDCWD, "/repo/node_modules/tape/bin/node_modules/glob", AT_STATX_SYNC_AS_STAT, 0x7) = -1 ENOENT
200 1.4 newfstatat(3, "relative-to-a-descriptor", 0x7ffc, 0) = -1 ENOENT (No such file or directory)
200 1.5 access("Testing/Temporary/CTestCostData.txt", R_OK) = -1 ENOENT (No such file or directory)
200 1.6 mkdir("/repo/build/Testing", 0777) = 0
200 1.7 newfstatat(AT_FDCWD, "ctest-junit.xml", 0x7ffc, 0) = -1 ENOENT (No such file or directory)
200 1.8 openat(AT_FDCWD, "ctest-junit.xml", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 4
200 1.9 execve("/usr/local/bin/ctest", ["ctest"], 0x1 /* 9 vars */) = -1 ENOENT (No such file or directory)
200 2.0 stat("/root/.cmake/packages", 0x7ffc) = -1 ENOENT (No such file or directory)
200 2.1 renameat2(AT_FDCWD, "out.tmp", AT_FDCWD, "/repo/build/out.txt", RENAME_NOREPLACE) = 0
200 2.2 stat("/repo/build/out.txt", 0x7ffc) = -1 ENOENT (No such file or directory)
200 2.3 stat("/repo/build/present", {st_mode=S_IFREG|0644, st_size=1, ...}) = 0
"""


def test_what_the_run_looked_for_and_never_found_is_missing_but_not_what_it_made() -> None:
    probe = per_unit_probe(MISSING_LOG, ["t"], "/repo")
    assert probe.missing == [
        "/repo/build/CTestCustom.cmake",
        "/repo/node_modules/tape/bin/node_modules/glob",
        "/usr/local/bin/ctest",
    ]
    # Lookups resolve against the working directory; a lookup found, one relative to a descriptor, one under a
    # home directory, and what the run made (a directory and what lies under it, a written file, a rename's
    # target) are not missing.
