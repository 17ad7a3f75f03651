/*
 * The native reflex thread of `mptcp pm run` (src/pm/native-reflex.ts loads it through koffi).
 *
 * Why it exists: measured on this project's lab (src/lab/pm-latency.ts), the cold JS path of an
 * idle Node process, from poll() returning to SUBFLOW_CREATE's sendto, adds 50-90 µs to the
 * in-kernel PM's reaction; a C thread doing the same adds about 10 µs (issue #7's goal is +50 µs).
 * So the decision stays in TypeScript and only the reaction is native: the controller's reflex
 * (Controller.establishedReflex, pure) is computed in JS and its SUBFLOW_CREATE requests, encoded
 * by the project's codec (ReflexCache templates), are installed here per (local address, remote
 * address, remote port). This thread blocks on its own events socket (filtered in the kernel to
 * `established` events), and for a client-side IPv4 connection with an installed entry stamps the
 * token and a sequence number into the messages and sends them on its own command socket, reading
 * each ACK (ENOTCONN is retried, bounded). It decides nothing and encodes nothing.
 *
 * An entry is exact (one local address, remote address and port) or a wildcard for one local
 * address and any IPv4 remote: then each message also gets the connection's remote address and
 * port written at offsets the JS side found (for reflexes whose subflows go to the connection's
 * own remote, such as fullmesh and ndiffports: checked in JS, ReflexCache.wildcard4). Lookup:
 * exact, then wildcard.
 *
 * Contract with the JS driver, which also reads every event on its own socket:
 * - put/clear install and drop entries (copied; bounded: MAX_ENTRIES, MAX_MESSAGES per entry,
 *   MAX_MESSAGE_BYTES each).
 * - Exactly one side sends for a connection: `claim(token)` returns this thread's record of the
 *   token (SENDING, SENT with per-message errnos, MISS = seen without an entry) or, when it has not
 *   seen the token, records it as CLAIMED so that this thread skips the event when it arrives.
 *   Records live in a ring of MAX_RECORDS (the oldest is overwritten).
 * - The thread blocks in recv() on the events socket (SO_RCVTIMEO STOP_CHECK_US, set here: one
 *   wake-up and one syscall per event, measured faster than poll() then recv()); stop() sets a
 *   flag and joins it within that bound. The fds belong to the caller and are never closed.
 * Every function is safe to call from the JS thread while the reflex thread runs (one mutex,
 * never held across a syscall).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_ENTRIES 256
#define MAX_MESSAGES 8
#define MAX_MESSAGE_BYTES 512
#define MAX_RECORDS 1024
#define EVENT_BUFFER_BYTES 65536
#define ACK_BUFFER_BYTES 4096
#define ACK_WAIT_MS 1000
#define RETRY_PAUSE_NS 20000
#define STOP_CHECK_US 100000

/* include/uapi/linux/mptcp_pm.h */
#define MPTCP_EVENT_ESTABLISHED 2
#define MPTCP_ATTR_TOKEN 1
#define MPTCP_ATTR_SADDR4 5
#define MPTCP_ATTR_SADDR6 6
#define MPTCP_ATTR_DADDR4 7
#define MPTCP_ATTR_DPORT 10
#define MPTCP_ATTR_SERVER_SIDE 18

/* Record states, as claim() returns them (src/pm/native-reflex.ts: NATIVE_RECORD). */
enum { REC_NONE = 0, REC_CLAIMED = 1, REC_SENDING = 2, REC_SENT = 3, REC_MISS = 4 };
/* Counters, as stats() returns them. */
enum { ST_EVENTS, ST_HITS, ST_MISSES, ST_SKIPPED, ST_SENT, ST_ERRORS, ST_RETRIES, ST_SLOW, ST_COUNT };
/* A request slower than this (send to ACK) counts in ST_SLOW: the kernel waited on something. */
#define SLOW_REQUEST_NS 500000

/* dport of a wildcard entry's key (real ports are 0..65535). */
#define WILDCARD_PORT 0x10000u

struct entry {
  int used;
  uint32_t saddr, daddr, dport, id;
  uint32_t count;
  uint32_t len[MAX_MESSAGES];
  /* Wildcard entries: where the remote address (4 bytes, network order) and port go. */
  int32_t daddr_off[MAX_MESSAGES], port_off[MAX_MESSAGES], port_be[MAX_MESSAGES];
  uint8_t msg[MAX_MESSAGES][MAX_MESSAGE_BYTES];
};

struct record {
  uint32_t token;
  int32_t state, entry_id, count;
  int32_t err[MAX_MESSAGES];
};

struct reflex {
  int events_fd, cmd_fd, family_id, token_offset, max_retries, stopping;
  pthread_t thread;
  pthread_mutex_t lock;
  struct entry entries[MAX_ENTRIES];
  struct record records[MAX_RECORDS];
  uint32_t next_record;
  uint64_t stats[ST_COUNT];
  uint32_t seq;
  /* The thread's own copy of the entry it sends (filled under the lock, sent outside it). */
  struct entry sending;
  uint8_t events[EVENT_BUFFER_BYTES];
  uint8_t ack[ACK_BUFFER_BYTES];
};

static uint32_t hash_key(uint32_t saddr, uint32_t daddr, uint32_t dport) {
  uint32_t h = saddr * 2654435761u ^ daddr * 40503u ^ dport * 2246822519u;
  return (h ^ (h >> 15)) % MAX_ENTRIES;
}

/* The entry for a key (open addressing, linear probe), or NULL. Lock held. */
static struct entry *find_entry(struct reflex *r, uint32_t saddr, uint32_t daddr, uint32_t dport) {
  uint32_t h = hash_key(saddr, daddr, dport);
  for (uint32_t i = 0; i < MAX_ENTRIES; i++) {
    struct entry *e = &r->entries[(h + i) % MAX_ENTRIES];
    if (!e->used) return NULL;
    if (e->saddr == saddr && e->daddr == daddr && e->dport == dport) return e;
  }
  return NULL;
}

/* The newest record of a token, or NULL. Lock held. */
static struct record *find_record(struct reflex *r, uint32_t token) {
  for (uint32_t i = 1; i <= MAX_RECORDS; i++) {
    struct record *rec = &r->records[(r->next_record - i) % MAX_RECORDS];
    if (rec->state == REC_NONE) return NULL;
    if (rec->token == token) return rec;
  }
  return NULL;
}

static struct record *new_record(struct reflex *r, uint32_t token, int32_t state) {
  struct record *rec = &r->records[r->next_record % MAX_RECORDS];
  r->next_record++;
  memset(rec, 0, sizeof *rec);
  rec->token = token;
  rec->state = state;
  rec->entry_id = -1;
  return rec;
}

static void put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

/* Sends one request and returns the kernel's errno for it (0: done). */
static int send_request(struct reflex *r, uint8_t *msg, uint32_t len) {
  uint32_t seq = ++r->seq;
  put_u32(msg + 8, seq);
  if (send(r->cmd_fd, msg, len, 0) < 0) return errno;
  for (;;) {
    ssize_t n = recv(r->cmd_fd, r->ack, sizeof r->ack, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      /* mptcp_pm answers inside sendmsg; waiting is for the unexpected. */
      struct pollfd p = {.fd = r->cmd_fd, .events = POLLIN};
      if (poll(&p, 1, ACK_WAIT_MS) <= 0) return ETIMEDOUT;
      continue;
    }
    if (n < 0) return errno == EINTR ? 0 : errno;
    for (struct nlmsghdr *h = (struct nlmsghdr *)r->ack; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq != seq || h->nlmsg_type != NLMSG_ERROR) continue;
      if (h->nlmsg_len < NLMSG_LENGTH(sizeof(int32_t))) return EPROTO;
      int32_t e;
      memcpy(&e, NLMSG_DATA(h), 4);
      return e < 0 ? -e : 0;
    }
  }
}

/* An `established` event: the fields of a client-side IPv4 connection, or 0 for anything else. */
static int read_established(const struct nlmsghdr *h, int family_id, uint32_t *token, uint32_t *saddr,
                            uint32_t *daddr, uint32_t *dport) {
  if (h->nlmsg_type != family_id || h->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN)) return 0;
  const uint8_t *g = NLMSG_DATA(h);
  if (g[0] != MPTCP_EVENT_ESTABLISHED) return 0;
  const uint8_t *p = g + GENL_HDRLEN, *end = (const uint8_t *)h + h->nlmsg_len;
  int have = 0, server = 0;
  while (p + NLA_HDRLEN <= end) {
    struct nlattr a;
    memcpy(&a, p, sizeof a);
    if (a.nla_len < NLA_HDRLEN || p + a.nla_len > end) return 0;
    const uint8_t *d = p + NLA_HDRLEN;
    uint32_t dlen = a.nla_len - NLA_HDRLEN;
    switch (a.nla_type & NLA_TYPE_MASK) {
      case MPTCP_ATTR_TOKEN:
        if (dlen >= 4) memcpy(token, d, 4), have |= 1;
        break;
      case MPTCP_ATTR_SADDR4:
        if (dlen >= 4) *saddr = (uint32_t)d[0] << 24 | d[1] << 16 | d[2] << 8 | d[3], have |= 2;
        break;
      case MPTCP_ATTR_DADDR4:
        if (dlen >= 4) *daddr = (uint32_t)d[0] << 24 | d[1] << 16 | d[2] << 8 | d[3], have |= 4;
        break;
      case MPTCP_ATTR_DPORT:
        if (dlen >= 2) *dport = (uint32_t)d[0] << 8 | d[1], have |= 8;
        break;
      case MPTCP_ATTR_SADDR6:
        return 0; /* IPv6: the JS path (as peekEstablished) */
      case MPTCP_ATTR_SERVER_SIDE:
        if (dlen >= 1) server = d[0] != 0;
        break;
    }
    p += NLA_ALIGN(a.nla_len);
  }
  return have == 15 && !server;
}

static void react(struct reflex *r, uint32_t token, uint32_t saddr, uint32_t daddr, uint32_t dport) {
  pthread_mutex_lock(&r->lock);
  r->stats[ST_EVENTS]++;
  struct record *rec = find_record(r, token);
  if (rec) { /* claimed by JS (or a repeated event): not ours */
    r->stats[ST_SKIPPED]++;
    pthread_mutex_unlock(&r->lock);
    return;
  }
  struct entry *e = find_entry(r, saddr, daddr, dport);
  if (!e) e = find_entry(r, saddr, 0, WILDCARD_PORT);
  if (!e) {
    new_record(r, token, REC_MISS);
    r->stats[ST_MISSES]++;
    pthread_mutex_unlock(&r->lock);
    return;
  }
  r->stats[ST_HITS]++;
  memcpy(&r->sending, e, sizeof *e);
  uint32_t slot = r->next_record;
  rec = new_record(r, token, REC_SENDING);
  rec->entry_id = (int32_t)e->id;
  rec->count = (int32_t)e->count;
  pthread_mutex_unlock(&r->lock);

  int32_t err[MAX_MESSAGES] = {0};
  uint64_t retries = 0, sent = 0, errors = 0, slow = 0;
  for (uint32_t i = 0; i < r->sending.count; i++) {
    uint8_t *m = r->sending.msg[i];
    put_u32(m + r->token_offset, token);
    if (r->sending.dport == WILDCARD_PORT) {
      uint8_t *a = m + r->sending.daddr_off[i], *p = m + r->sending.port_off[i];
      a[0] = daddr >> 24, a[1] = daddr >> 16, a[2] = daddr >> 8, a[3] = daddr;
      if (r->sending.port_be[i]) p[0] = dport >> 8, p[1] = dport;
      else p[0] = dport, p[1] = dport >> 8;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int e2 = send_request(r, m, r->sending.len[i]);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if ((t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec) > SLOW_REQUEST_NS) slow++;
    for (int k = 0; e2 == ENOTCONN && k < r->max_retries; k++) {
      /* The event can overtake the socket's own state change (see kernel-driver.ts). */
      struct timespec pause = {0, RETRY_PAUSE_NS};
      nanosleep(&pause, NULL);
      retries++;
      e2 = send_request(r, m, r->sending.len[i]);
    }
    err[i] = e2;
    if (e2) errors++;
    else sent++;
  }

  pthread_mutex_lock(&r->lock);
  r->stats[ST_RETRIES] += retries;
  r->stats[ST_SENT] += sent;
  r->stats[ST_ERRORS] += errors;
  r->stats[ST_SLOW] += slow;
  /* The ring may have wrapped meanwhile (over MAX_RECORDS events in one send): then JS saw no record. */
  struct record *mine = &r->records[slot % MAX_RECORDS];
  if (mine->token == token && mine->state == REC_SENDING) {
    memcpy(mine->err, err, sizeof err);
    mine->state = REC_SENT;
  }
  pthread_mutex_unlock(&r->lock);
}

static void *run(void *arg) {
  struct reflex *r = arg;
  /* Blocks in recv() itself (one wake-up, one syscall per event); the timeout bounds stop(). */
  struct timeval tv = {.tv_sec = 0, .tv_usec = STOP_CHECK_US};
  setsockopt(r->events_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  while (!__atomic_load_n(&r->stopping, __ATOMIC_ACQUIRE)) {
    ssize_t n = recv(r->events_fd, r->events, sizeof r->events, 0);
    if (n <= 0) continue; /* timeout, EINTR, ENOBUFS (lost events go to JS) */
    for (struct nlmsghdr *h = (struct nlmsghdr *)r->events; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      uint32_t token = 0, saddr = 0, daddr = 0, dport = 0;
      if (read_established(h, r->family_id, &token, &saddr, &daddr, &dport))
        react(r, token, saddr, daddr, dport);
    }
  }
  return NULL;
}

/*
 * Starts the thread (SCHED_FIFO at rt_priority when > 0 and allowed; *rt_ok says whether it is).
 * NULL on failure, with *err the errno.
 */
struct reflex *mptcp_reflex_start(int events_fd, int cmd_fd, int family_id, int token_offset,
                                  int max_retries, int rt_priority, int *rt_ok, int *err) {
  *rt_ok = 0;
  *err = 0;
  if (token_offset < NLMSG_HDRLEN || token_offset + 4 > MAX_MESSAGE_BYTES) {
    *err = EINVAL;
    return NULL;
  }
  struct reflex *r = calloc(1, sizeof *r);
  if (!r) {
    *err = ENOMEM;
    return NULL;
  }
  r->events_fd = events_fd;
  r->cmd_fd = cmd_fd;
  r->family_id = family_id;
  r->token_offset = token_offset;
  r->max_retries = max_retries;
  pthread_mutex_init(&r->lock, NULL);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  int rc = -1;
  if (rt_priority > 0) {
    struct sched_param sp = {.sched_priority = rt_priority};
    pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
    pthread_attr_setschedpolicy(&attr, SCHED_FIFO);
    pthread_attr_setschedparam(&attr, &sp);
    rc = pthread_create(&r->thread, &attr, run, r);
    if (rc == 0) *rt_ok = 1;
  }
  if (rc != 0) {
    pthread_attr_destroy(&attr);
    pthread_attr_init(&attr);
    pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
    pthread_attr_setschedpolicy(&attr, SCHED_OTHER);
    rc = pthread_create(&r->thread, &attr, run, r);
  }
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    *err = rc;
    pthread_mutex_destroy(&r->lock);
    free(r);
    return NULL;
  }
  return r;
}

/*
 * Installs (or replaces) the entry of a key: `count` messages concatenated in `messages` (each
 * begins with its nlmsghdr, whose nlmsg_len gives its length, a multiple of 4). A wildcard entry
 * (dport WILDCARD_PORT, daddr 0) gives `patches`: per message, the remote address offset, the
 * port offset and whether the port is big-endian (NULL otherwise). 0, or an errno: EINVAL for a
 * bad message list, ENOSPC when the table is full (clear() and install again).
 */
int mptcp_reflex_put(struct reflex *r, uint32_t saddr, uint32_t daddr, uint32_t dport, uint32_t id,
                     const uint8_t *messages, uint32_t total, uint32_t count, const int32_t *patches) {
  int wildcard = dport == WILDCARD_PORT;
  if (count == 0 || count > MAX_MESSAGES || (dport > 0xffff && !wildcard)) return EINVAL;
  if (wildcard && (daddr != 0 || !patches)) return EINVAL;
  struct entry next = {.used = 1, .saddr = saddr, .daddr = daddr, .dport = dport, .id = id, .count = count};
  uint32_t off = 0;
  for (uint32_t i = 0; i < count; i++) {
    if (total - off < NLMSG_HDRLEN) return EINVAL;
    uint32_t len;
    memcpy(&len, messages + off, 4);
    if (len < (uint32_t)r->token_offset + 4 || len > MAX_MESSAGE_BYTES || len > total - off || len % 4) return EINVAL;
    next.len[i] = len;
    memcpy(next.msg[i], messages + off, len);
    if (wildcard) {
      int32_t a = patches[3 * i], p = patches[3 * i + 1];
      if (a < NLMSG_HDRLEN || (uint32_t)a + 4 > len || p < NLMSG_HDRLEN || (uint32_t)p + 2 > len) return EINVAL;
      next.daddr_off[i] = a;
      next.port_off[i] = p;
      next.port_be[i] = patches[3 * i + 2] != 0;
    }
    off += len;
  }
  if (off != total) return EINVAL;
  pthread_mutex_lock(&r->lock);
  struct entry *e = find_entry(r, saddr, daddr, dport);
  if (!e) {
    uint32_t h = hash_key(saddr, daddr, dport);
    for (uint32_t i = 0; i < MAX_ENTRIES && !e; i++) {
      struct entry *c = &r->entries[(h + i) % MAX_ENTRIES];
      if (!c->used) e = c;
    }
  }
  if (e) memcpy(e, &next, sizeof next);
  pthread_mutex_unlock(&r->lock);
  return e ? 0 : ENOSPC;
}

/* Drops every entry. */
void mptcp_reflex_clear(struct reflex *r) {
  pthread_mutex_lock(&r->lock);
  for (uint32_t i = 0; i < MAX_ENTRIES; i++) r->entries[i].used = 0;
  pthread_mutex_unlock(&r->lock);
}

/*
 * The thread's record of a token, into out[0..3 + MAX_MESSAGES): state, entry id, message count,
 * then each message's errno. A token it has not seen is recorded CLAIMED (out[0] = REC_NONE is
 * returned: the caller sends), and the thread will skip its event.
 */
int32_t mptcp_reflex_claim(struct reflex *r, uint32_t token, int32_t *out) {
  pthread_mutex_lock(&r->lock);
  struct record *rec = find_record(r, token);
  int32_t state;
  if (!rec) {
    new_record(r, token, REC_CLAIMED);
    out[0] = state = REC_NONE;
    out[1] = -1;
    out[2] = 0;
  } else {
    out[0] = state = rec->state;
    out[1] = rec->entry_id;
    out[2] = rec->count;
    memcpy(out + 3, rec->err, sizeof rec->err);
  }
  pthread_mutex_unlock(&r->lock);
  return state;
}

/* The counters (ST_*), into out[0..ST_COUNT). Returns ST_COUNT. */
int32_t mptcp_reflex_stats(struct reflex *r, double *out) {
  pthread_mutex_lock(&r->lock);
  for (int i = 0; i < ST_COUNT; i++) out[i] = (double)r->stats[i];
  pthread_mutex_unlock(&r->lock);
  return ST_COUNT;
}

/* Wakes and joins the thread, and frees it (the fds stay open). */
void mptcp_reflex_stop(struct reflex *r) {
  __atomic_store_n(&r->stopping, 1, __ATOMIC_RELEASE);
  pthread_join(r->thread, NULL);
  pthread_mutex_destroy(&r->lock);
  free(r);
}
