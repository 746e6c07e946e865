/* libFuzzer harness for the option parsing of every hitl command: byte 0 picks the command
 * (cli/main.c's table, through its renamed main), the rest are its arguments separated by NUL
 * bytes. Runs in an empty scratch directory, wiped after each input, with '/' taken out of every
 * argument, so every path names a missing or scratch file: option parsing, number parsing and
 * usage errors run, no real work. stdin is /dev/null; output is discarded unless
 * HITL_FUZZ_CLI_VERBOSE is set. */
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int hitl_cli_main(int argc, char **argv);

/* cli/main.c's commands, then what main() answers itself */
static const char *const commands[] = {"score",  "init",      "set",       "queue",      "next",
                                       "label",  "skip",      "annotate",  "adjudicate", "status",
                                       "audit",  "agreement", "aggregate", "calibrate",  "health",
                                       "export", "import",    "train",     "convert",    "simulate",
                                       "report", "--help",    "--version", "nope"};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))
#define MAX_WORDS  64

static char scratch[256];
static int home = -1;

static void wipe(void)
{
    DIR *d = opendir(scratch);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            if (unlinkat(dirfd(d), e->d_name, 0) != 0) unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR);
    closedir(d);
}

static void cleanup(void)
{
    wipe();
    rmdir(scratch);
}

static void setup(void)
{
    const char *dir = getenv("TMPDIR");
    snprintf(scratch, sizeof(scratch), "%s/hitl-fuzz-cli-XXXXXX", dir && dir[0] ? dir : "/tmp");
    if (!mkdtemp(scratch) || (home = open(".", O_RDONLY | O_DIRECTORY)) < 0) __builtin_trap();
    atexit(cleanup);
    int null = open("/dev/null", O_RDWR);
    if (null < 0 || dup2(null, STDIN_FILENO) < 0) __builtin_trap();
    if (!getenv("HITL_FUZZ_CLI_VERBOSE")) { /* libFuzzer and the sanitizers keep fd 2 */
        FILE *f = fopen("/dev/null", "w");
        if (!f) __builtin_trap();
        stdout = stderr = f;
    }
    close(null);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (home < 0) setup();
    if (size < 1) return 0;
    char *buf = malloc(size); /* the words, NUL-terminated */
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    char *argv[MAX_WORDS + 3];
    int argc = 0;
    argv[argc++] = "hitl";
    if (data[0] != 0xff) argv[argc++] = (char *)commands[data[0] % N_COMMANDS];
    for (char *p = buf; p < buf + size - 1 && argc < MAX_WORDS + 2; p += strlen(p) + 1) {
        for (char *q = p; *q; q++)
            if (*q == '/') *q = '_';
        argv[argc++] = p;
    }
    argv[argc] = NULL;
    /* a fresh getopt: the commands set optind = 1, which keeps a half-read "-xy" cluster */
    char *none[] = {"hitl", NULL};
    optind = 0;
    getopt(1, none, "");
    if (chdir(scratch) != 0) __builtin_trap();
    int rc = hitl_cli_main(argc, argv);
    fflush(stdout);
    fflush(stderr);
    if (fchdir(home) != 0) __builtin_trap();
    wipe();
    free(buf);
    if (rc < 0 || rc > 3) __builtin_trap(); /* the documented exit codes */
    return 0;
}
