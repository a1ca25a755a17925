/*
 * loadgen: a minimal closed-loop HTTP/1.1 load generator for HEAD (and GET) requests.
 *
 * Why it exists: Debian's wrk 4.1.0 and h2load 1.52 both hang on HEAD responses that carry a
 * Content-Length (as registries must send for manifests): their parsers wait for a body that never
 * comes. loadgen knows the method, so a HEAD response ends at its headers.
 *
 * One thread, epoll, C keep-alive connections each with one request in flight (like wrk -t1 -cC).
 * Latency is measured per request from the first byte sent to the last byte read, at 1 us
 * resolution up to 10 s. Prints one JSON object on stdout.
 *
 *   loadgen -m HEAD -c 16 -d 10 [-H 'Accept: ...']... http://127.0.0.1:5000/v2/x/manifests/latest
 *
 * Exit status 0 on a clean run; 2 on bad usage or when no connection could be made.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF 65536
#define MAX_US 10000000 /* histogram range: 10 s */
#define MAX_CONNS 1024

struct conn {
    int fd;
    size_t got;            /* bytes buffered (headers not yet complete) */
    long long body_left;   /* body bytes still to read; -1 while reading headers */
    int chunked;           /* body ends with the zero-length chunk */
    uint64_t started_ns;
    char buf[BUF];
};

static struct sockaddr_in addr;
static char request[8192];
static size_t request_len;
static int is_head;
static uint32_t *hist;
static uint64_t over_max, requests, non2xx, errors, reconnects;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int open_conn(int ep, struct conn *c) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    if (fd < 0) return -1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    c->fd = fd;
    return 0;
}

static int send_request(struct conn *c) {
    c->got = 0;
    c->body_left = -1;
    c->chunked = 0;
    c->started_ns = now_ns();
    size_t off = 0;
    while (off < request_len) { /* a few hundred bytes: fits the socket buffer at once */
        ssize_t n = write(c->fd, request + off, request_len - off);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            return -1;
        }
        off += (size_t)n;
    }
    return 0;
}

/* Header block complete in c->buf[0..end): read status, Content-Length, Transfer-Encoding. */
static int parse_headers(struct conn *c, size_t end) {
    int status = 0;
    long long length = -1;
    if (sscanf(c->buf, "HTTP/1.%*c %d", &status) != 1) return -1;
    if (status < 200 || status > 299) non2xx++;
    for (char *line = strstr(c->buf, "\r\n"); line && (size_t)(line - c->buf) < end; line = strstr(line + 2, "\r\n")) {
        char *h = line + 2;
        if (strncasecmp(h, "content-length:", 15) == 0) length = atoll(h + 15);
        else if (strncasecmp(h, "transfer-encoding:", 18) == 0 && strcasestr(h, "chunked") && strcasestr(h, "\r\n") > strcasestr(h, "chunked")) c->chunked = 1;
    }
    if (is_head || status == 204 || status == 304) c->body_left = 0;
    else if (c->chunked) c->body_left = 0; /* handled by scanning for the last chunk */
    else if (length >= 0) c->body_left = length;
    else return -1; /* neither length nor chunked: would need connection close */
    return 0;
}

/* Returns 1 when the response is complete, 0 when more bytes are needed, -1 on error. */
static int consume(struct conn *c, size_t n) {
    if (c->body_left < 0) {
        c->got += n;
        c->buf[c->got < BUF ? c->got : BUF - 1] = 0;
        char *end = strstr(c->buf, "\r\n\r\n");
        if (!end) return c->got >= BUF - 1 ? -1 : 0;
        size_t head = (size_t)(end - c->buf) + 4;
        if (parse_headers(c, head) < 0) return -1;
        size_t extra = c->got - head;
        if (c->chunked) {
            c->buf[c->got] = 0;
            return strstr(c->buf + head - 2, "\r\n0\r\n\r\n") || (extra >= 5 && strncmp(c->buf + head, "0\r\n\r\n", 5) == 0) ? 1 : (c->got >= BUF - 1 ? -1 : 0);
        }
        if ((long long)extra > c->body_left) return -1; /* we never pipeline */
        c->body_left -= (long long)extra;
        return c->body_left == 0;
    }
    if (c->chunked) {
        c->got += n;
        c->buf[c->got < BUF ? c->got : BUF - 1] = 0;
        return strstr(c->buf, "\r\n0\r\n\r\n") ? 1 : (c->got >= BUF - 1 ? -1 : 0);
    }
    if ((long long)n > c->body_left) return -1;
    c->body_left -= (long long)n;
    return c->body_left == 0;
}

static double percentile(double p) {
    uint64_t want = (uint64_t)(p * (double)requests + 0.5), seen = 0;
    if (want == 0) want = 1;
    for (uint32_t us = 0; us < MAX_US; us++) {
        seen += hist[us];
        if (seen >= want) return us / 1000.0;
    }
    return MAX_US / 1000.0;
}

static int parse_url(const char *url, char *host, size_t hostlen, int *port, const char **path) {
    if (strncmp(url, "http://", 7) != 0) return -1;
    const char *p = url + 7, *colon = strchr(p, ':'), *slash = strchr(p, '/');
    if (!colon || !slash || colon > slash || (size_t)(colon - p) >= hostlen) return -1;
    memcpy(host, p, (size_t)(colon - p));
    host[colon - p] = 0;
    *port = atoi(colon + 1);
    *path = slash;
    return 0;
}

int main(int argc, char **argv) {
    const char *method = "GET", *headers[64];
    int nheaders = 0, conns = 1, opt;
    double seconds = 10;
    while ((opt = getopt(argc, argv, "m:c:d:H:")) != -1) {
        if (opt == 'm') method = optarg;
        else if (opt == 'c') conns = atoi(optarg);
        else if (opt == 'd') seconds = atof(optarg);
        else if (opt == 'H' && nheaders < 64) headers[nheaders++] = optarg;
        else return 2;
    }
    char host[256];
    int port;
    const char *path;
    if (optind != argc - 1 || conns < 1 || conns > MAX_CONNS || parse_url(argv[optind], host, sizeof host, &port, &path) < 0) {
        fprintf(stderr, "usage: loadgen [-m METHOD] [-c CONNS] [-d SECONDS] [-H 'Name: value'] http://IP:PORT/path\n");
        return 2;
    }
    is_head = strcmp(method, "HEAD") == 0;
    int len = snprintf(request, sizeof request, "%s %s HTTP/1.1\r\nHost: %s:%d\r\n", method, path, host, port);
    for (int i = 0; i < nheaders; i++) len += snprintf(request + len, sizeof request - (size_t)len, "%s\r\n", headers[i]);
    len += snprintf(request + len, sizeof request - (size_t)len, "\r\n");
    request_len = (size_t)len;
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) return 2;

    hist = calloc(MAX_US, sizeof *hist);
    struct conn *cs = calloc((size_t)conns, sizeof *cs);
    int ep = epoll_create1(0);
    for (int i = 0; i < conns; i++) {
        if (open_conn(ep, &cs[i]) < 0 || send_request(&cs[i]) < 0) {
            fprintf(stderr, "loadgen: cannot connect to %s: %s\n", argv[optind], strerror(errno));
            return 2;
        }
    }
    uint64_t start = now_ns(), stop = start + (uint64_t)(seconds * 1e9), last = start;
    struct epoll_event evs[MAX_CONNS];
    int active = conns;
    while (active > 0) {
        int n = epoll_wait(ep, evs, MAX_CONNS, 100);
        uint64_t t = now_ns();
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            size_t room = c->body_left < 0 || c->chunked ? BUF - 1 - c->got : BUF;
            char *dst = c->body_left < 0 || c->chunked ? c->buf + c->got : c->buf;
            ssize_t got = read(c->fd, dst, room);
            if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            int done = got > 0 ? consume(c, (size_t)got) : -1;
            if (done == 0) continue;
            if (done < 0) { /* error or server closed: reconnect */
                errors += got != 0;
                reconnects++;
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                if (t >= stop || open_conn(ep, c) < 0 || send_request(c) < 0) active--;
                continue;
            }
            uint64_t us = (t - c->started_ns) / 1000;
            if (us < MAX_US) hist[us]++;
            else over_max++;
            requests++;
            last = t;
            if (t >= stop) {
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                c->fd = -1;
                active--;
            } else if (send_request(c) < 0) {
                errors++;
                active--;
            }
        }
        if (t >= stop + 10000000000ull) break; /* 10 s grace for stuck requests */
    }
    double elapsed = (double)(last - start) / 1e9;
    printf("{\"requests\": %llu, \"seconds\": %.6f, \"rps\": %.1f, \"p50_ms\": %.3f, \"p90_ms\": %.3f, "
           "\"p99_ms\": %.3f, \"non2xx\": %llu, \"errors\": %llu, \"reconnects\": %llu, \"over_10s\": %llu, "
           "\"unfinished\": %d}\n",
           (unsigned long long)requests, elapsed, elapsed > 0 ? (double)requests / elapsed : 0.0,
           percentile(0.50), percentile(0.90), percentile(0.99), (unsigned long long)non2xx,
           (unsigned long long)errors, (unsigned long long)reconnects, (unsigned long long)over_max, active);
    return 0;
}
