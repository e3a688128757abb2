// report_render.c: runs gnuplot on a figure script as a child process.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include "harness/report/report.h"

int hl_report_find_gnuplot(char *path, size_t len) {
    const char *env = getenv("HYLAB_GNUPLOT");
    if (env && *env) {
        snprintf(path, len, "%s", env);
        return access(path, X_OK) == 0;
    }
    const char *p = getenv("PATH");
    if (!p || !*p) p = "/usr/local/bin:/usr/bin:/bin";
    while (*p) {
        size_t n = strcspn(p, ":");
        snprintf(path, len, "%.*s/gnuplot", (int)n, p);
        if (n && access(path, X_OK) == 0) return 1;
        p += n + (p[n] == ':');
    }
    return 0;
}

static int nonempty(const char *dir, const char *name, const char *ext) {
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s.%s", dir, name, ext);
    return stat(path, &st) == 0 && st.st_size > 0;
}

int hl_report_render(const char *gnuplot, const char *dir, const char *name, char *err, size_t errlen) {
    char script[1024];
    snprintf(script, sizeof script, "%s.gp", name);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) { snprintf(err, errlen, "cannot start gnuplot: %s", strerror(errno)); return HL_REP_EFAIL; }
    if (pid == 0) {
        if (chdir(dir) != 0) _exit(126);
        dup2(2, 1);   // gnuplot's own messages go to stderr; stdout stays ours
        execl(gnuplot, "gnuplot", script, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) { snprintf(err, errlen, "waiting for gnuplot: %s", strerror(errno)); return HL_REP_EFAIL; }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (WIFEXITED(status))
            snprintf(err, errlen, "gnuplot %s/%s failed (exit status %d)", dir, script, WEXITSTATUS(status));
        else
            snprintf(err, errlen, "gnuplot %s/%s was killed by signal %d", dir, script, WTERMSIG(status));
        return HL_REP_EFAIL;
    }
    if (!nonempty(dir, name, "png") || !nonempty(dir, name, "pdf")) {
        snprintf(err, errlen, "gnuplot %s/%s wrote no %s.png or %s.pdf", dir, script, name, name);
        return HL_REP_EFAIL;
    }
    return HL_REP_OK;
}
