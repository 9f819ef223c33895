#define _GNU_SOURCE
/*
 * idle-conns: hold many idle SMTP connections to a loopback server (spamhattan bench).
 *
 *   cc -O2 -o idle-conns idle-conns.c
 *   idle-conns -n CONNS [-S FIRST_SRC_IP] [-k NUM_SRC_IPS] [-c MAX_INFLIGHT] [-T LIMIT_S] HOST:PORT
 *
 * Opens CONNS TCP connections to HOST:PORT (127.0.0.0/8 only), spreading them over the source
 * addresses FIRST_SRC_IP .. FIRST_SRC_IP+NUM_SRC_IPS-1 (bind() before connect(), default
 * 127.0.0.2 x 100), at most MAX_INFLIGHT connects/banners outstanding at once (default 256).
 * Each connection reads the 220 banner and then sends nothing: it idles.
 *
 * Protocol on stdout/stdin (line based, for the driving script):
 *   prints  "ready opened=N banners=N failed=N connect_s=S"   once every connection got its
 *           banner (or failed);
 *   reads   "check"  -> prints "check open=N closed=N failed=N" plus, if any were closed by the
 *                       server, "closed_sample: <last line the server sent before closing>";
 *           "quit" or EOF -> closes everything, prints "bye open=N closed=N" and exits 0.
 * Bounded: CONNS <= 20000 and a hard wall-clock limit (-T, default 900 s) after which it exits.
 * Exit status: 0 normally, 1 if any connection failed to open or get a 220 banner.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

enum { C_NONE, C_CONNECTING, C_BANNER, C_IDLE, C_CLOSED, C_FAILED };

typedef struct {
    int fd, state;
    char line[160]; /* line being received */
    char last[160]; /* last complete line received from the server */
    size_t llen;
} conn_t;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static int ep;
static long n_open, n_closed, n_failed, n_banner, inflight;
static char closed_sample[160];

static void set_state(conn_t *c, int st) {
    if ((c->state == C_CONNECTING || c->state == C_BANNER) && st != C_BANNER) inflight--;
    if (st == C_IDLE) { n_banner++; n_open++; }
    if (st == C_CLOSED) { n_open--; n_closed++; }
    if (st == C_FAILED) n_failed++;
    c->state = st;
}

static void drop(conn_t *c, int st) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    set_state(c, st);
}

/* read what is available; returns 0 if the peer closed (or error), 1 otherwise */
static int slurp(conn_t *c) {
    char buf[4096];
    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n == 0) return 0;
        if (n < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 1 : 0;
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\n') {
                c->line[c->llen] = 0;
                memcpy(c->last, c->line, c->llen + 1);
                c->llen = 0;
                if (c->state == C_BANNER) {
                    /* the banner may be multi-line ("220-..."); its last line is "220 ..." */
                    if (strncmp(c->last, "220", 3) != 0) {
                        fprintf(stderr, "unexpected banner: %.100s\n", c->last);
                        return 0;
                    }
                    if (c->last[3] != '-') { set_state(c, C_IDLE); c->last[0] = 0; }
                }
                continue;
            }
            if (buf[i] != '\r' && c->llen < sizeof c->line - 1) c->line[c->llen++] = buf[i];
        }
    }
}

int main(int argc, char **argv) {
    long conns = 100;
    int nsrc = 100, maxin = 256, tlimit = 900, opt;
    const char *first_src = "127.0.0.2";
    while ((opt = getopt(argc, argv, "n:S:k:c:T:")) != -1) switch (opt) {
        case 'n': conns = atol(optarg); break;
        case 'S': first_src = optarg; break;
        case 'k': nsrc = atoi(optarg); break;
        case 'c': maxin = atoi(optarg); break;
        case 'T': tlimit = atoi(optarg); break;
        default: fprintf(stderr, "bad option\n"); return 2;
    }
    if (optind >= argc || conns < 1 || conns > 20000 || nsrc < 1 || nsrc > 65000 || maxin < 1) {
        fprintf(stderr, "usage: idle-conns -n CONNS(<=20000) [-S 127.0.0.2] [-k 100] [-c 256] [-T 900] 127.0.0.1:PORT\n");
        return 2;
    }
    char host[64];
    int port;
    if (sscanf(argv[optind], "%63[^:]:%d", host, &port) != 2) { fprintf(stderr, "target HOST:PORT\n"); return 2; }
    struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
    struct in_addr src0;
    if (inet_pton(AF_INET, host, &dst.sin_addr) != 1 || (ntohl(dst.sin_addr.s_addr) >> 24) != 127 ||
        inet_pton(AF_INET, first_src, &src0) != 1 || (ntohl(src0.s_addr) >> 24) != 127 ||
        ((ntohl(src0.s_addr) + (uint32_t)nsrc - 1) >> 24) != 127) {
        fprintf(stderr, "loopback (127.0.0.0/8) addresses only\n");
        return 2;
    }
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < (rlim_t)conns + 16) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < (rlim_t)conns + 16) {
            fprintf(stderr, "RLIMIT_NOFILE %lu too small for %ld connections\n", (unsigned long)rl.rlim_cur, conns);
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    ep = epoll_create1(0);
    conn_t *cs = calloc((size_t)conns, sizeof *cs);
    struct epoll_event sev = { .events = EPOLLIN, .data.ptr = NULL };
    epoll_ctl(ep, EPOLL_CTL_ADD, 0, &sev); /* stdin: commands (registered later is fine too) */
    double t0 = now(), t_ready = 0;
    long next = 0;
    int stdin_open = 1, quit = 0, announced = 0;
    struct epoll_event evs[512];
    while (!quit) {
        if (now() - t0 > tlimit) { fprintf(stderr, "time limit hit\n"); break; }
        while (next < conns && inflight < maxin) {
            conn_t *c = &cs[next];
            struct sockaddr_in src = { .sin_family = AF_INET };
            src.sin_addr.s_addr = htonl(ntohl(src0.s_addr) + (uint32_t)(next % nsrc));
            next++;
            c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (c->fd < 0) { perror("socket"); c->state = C_FAILED; n_failed++; continue; }
            int one = 1;
            setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
            if (bind(c->fd, (struct sockaddr *)&src, sizeof src) < 0) {
                perror("bind"); close(c->fd); c->fd = -1; c->state = C_FAILED; n_failed++; continue;
            }
            inflight++;
            c->state = C_CONNECTING;
            if (connect(c->fd, (struct sockaddr *)&dst, sizeof dst) < 0 && errno != EINPROGRESS) {
                perror("connect"); close(c->fd); c->fd = -1; set_state(c, C_FAILED); continue;
            }
            struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.ptr = c };
            epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
        }
        if (!announced && next >= conns && inflight == 0) {
            t_ready = now();
            printf("ready opened=%ld banners=%ld failed=%ld connect_s=%.3f\n", n_open + n_closed, n_banner, n_failed, t_ready - t0);
            announced = 1;
        }
        int n = epoll_wait(ep, evs, 512, 1000);
        for (int i = 0; i < n; i++) {
            conn_t *c = evs[i].data.ptr;
            if (c == NULL) { /* stdin */
                char cmd[64];
                ssize_t r = read(0, cmd, sizeof cmd - 1);
                if (r <= 0) { stdin_open = 0; epoll_ctl(ep, EPOLL_CTL_DEL, 0, NULL); quit = 1; break; }
                cmd[r] = 0;
                if (strstr(cmd, "quit")) { quit = 1; break; }
                if (strstr(cmd, "check")) {
                    /* actively probe every idle socket: MSG_PEEK returns 0 once the server closed */
                    for (long j = 0; j < conns; j++) {
                        conn_t *k = &cs[j];
                        if (k->state != C_IDLE) continue;
                        char b;
                        ssize_t pr = recv(k->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
                        if (pr == 0 || (pr < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
                            if (!closed_sample[0]) snprintf(closed_sample, sizeof closed_sample, "%s", k->last[0] ? k->last : "(nothing after the banner)");
                            drop(k, C_CLOSED);
                        } else if (pr > 0 && !slurp(k)) {
                            if (!closed_sample[0]) snprintf(closed_sample, sizeof closed_sample, "%s", k->last[0] ? k->last : "(nothing after the banner)");
                            drop(k, C_CLOSED);
                        }
                    }
                    printf("check open=%ld closed=%ld failed=%ld\n", n_open, n_closed, n_failed);
                    if (closed_sample[0]) printf("closed_sample: %s\n", closed_sample);
                }
                continue;
            }
            if (c->fd < 0) continue;
            if (c->state == C_CONNECTING) {
                int err = 0;
                socklen_t el = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
                if (err) { fprintf(stderr, "connect: %s\n", strerror(err)); drop(c, C_FAILED); continue; }
                if (!(evs[i].events & EPOLLOUT) && !(evs[i].events & EPOLLIN)) continue;
                set_state(c, C_BANNER);
                struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = c };
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
            }
            if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
                int was = c->state;
                if (!slurp(c)) {
                    if (was == C_BANNER) { fprintf(stderr, "closed before banner: %.100s\n", c->last); drop(c, C_FAILED); }
                    else {
                        if (!closed_sample[0]) snprintf(closed_sample, sizeof closed_sample, "%s", c->last[0] ? c->last : "(nothing after the banner)");
                        drop(c, C_CLOSED);
                    }
                }
            }
        }
    }
    (void)stdin_open;
    long open_at_end = n_open;
    for (long j = 0; j < conns; j++) if (cs[j].fd >= 0) close(cs[j].fd);
    printf("bye open=%ld closed=%ld failed=%ld held_s=%.1f\n", open_at_end, n_closed, n_failed, t_ready ? now() - t_ready : 0.0);
    return n_failed ? 1 : 0;
}
