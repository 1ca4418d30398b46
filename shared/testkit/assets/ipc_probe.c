/*
 * A System V IPC probe for chapter 2's tests (busybox has no ipcmk).
 *
 *   ipc-probe create KEY   create a shared memory segment and a message queue with KEY (hex)
 *   ipc-probe check KEY    print "present" or "absent" for each of them
 *
 * System V IPC objects are found by key in the IPC namespace of the caller: a new IPC namespace
 * starts empty, and its objects vanish with it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/shm.h>

int main(int argc, char *argv[]) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s create|check KEY\n", argv[0]);
        return 2;
    }
    key_t key = (key_t)strtol(argv[2], NULL, 16);
    if (strcmp(argv[1], "create") == 0) {
        if (shmget(key, 4096, IPC_CREAT | 0600) < 0 || msgget(key, IPC_CREAT | 0600) < 0) {
            perror("ipc-probe: create");
            return 1;
        }
        printf("created\n");
        return 0;
    }
    printf("shm %s\n", shmget(key, 0, 0) >= 0 ? "present" : "absent");
    printf("msg %s\n", msgget(key, 0) >= 0 ? "present" : "absent");
    return 0;
}
