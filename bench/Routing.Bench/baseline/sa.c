/*
 * sa.c — the reference point of Routing.Bench: a plain single-thread simulated annealing for the symmetric TSP.
 *
 *   gcc -O2 -o sa sa.c -lm
 *   ./sa file.tsp [budget-ms] [seed]
 *
 * Reads a TSPLIB file with NODE_COORD_SECTION and EDGE_WEIGHT_TYPE EUC_2D, CEIL_2D, ATT or GEO (TSPLIB 95,
 * section 2). Starts from a nearest-neighbour tour; moves are 2-opt and Or-opt (a segment of 1-3 cities moved,
 * either way round, next to a near neighbour), each drawn from a city's 10 nearest neighbours; Metropolis
 * acceptance; geometric cooling over the wall-clock budget from T0 = 2 to T1 = 0.05 times the mean
 * nearest-neighbour distance (the best of a few pairs tried on att532 and pbd984: 0.5/0.02, 0.5/0.05, 1/0.05,
 * 0.3/0.03, 2/0.05, 1/0.1, 2/0.1). Prints "t=<s> <best length>" after each second and
 * "final <best length> moves <n> elapsed_ms <ms>" at the end. Optional 4th and 5th arguments replace T0 and T1.
 * No tricks beyond that: this is the "single-thread C SA" the issue compares against (Routing.Bench's
 * "C SA, 1 thread" row). Written for this repository.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define K 10

static int n;
static double *X, *Y;
static int metric; /* 0 EUC_2D, 1 CEIL_2D, 2 ATT, 3 GEO */
static int *M;      /* full distance matrix */
static int *nb;     /* K nearest neighbours per city */
static int *tour, *pos;

static uint64_t rs[4];
static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
static uint64_t rnd(void) /* xoshiro256** */
{
    uint64_t r = rotl(rs[1] * 5, 7) * 9, t = rs[1] << 17;
    rs[2] ^= rs[0]; rs[3] ^= rs[1]; rs[1] ^= rs[2]; rs[0] ^= rs[3]; rs[2] ^= t; rs[3] = rotl(rs[3], 45);
    return r;
}
static int below(int m) { return (int)(((rnd() >> 32) * (uint64_t)m) >> 32); }
static double unit(void) { return ((rnd() >> 11) + 1) * (1.0 / 9007199254740992.0); }

static double geo_rad(double v)
{
    double deg = (int)v; /* TSPLIB: nint(x) is used as truncation here, as in the spec's code */
    return M_PI * (deg + 5.0 * (v - deg) / 3.0) / 180.0;
}

static int dist(int a, int b)
{
    double dx = X[a] - X[b], dy = Y[a] - Y[b];
    switch (metric) {
    case 0: return (int)(sqrt(dx * dx + dy * dy) + 0.5);
    case 1: return (int)ceil(sqrt(dx * dx + dy * dy));
    case 2: {
        double r = sqrt((dx * dx + dy * dy) / 10.0);
        int t = (int)(r + 0.5);
        return t < r ? t + 1 : t;
    }
    default: {
        double la = geo_rad(X[a]), lo = geo_rad(Y[a]), lb = geo_rad(X[b]), lob = geo_rad(Y[b]);
        double q1 = cos(lo - lob), q2 = cos(la - lb), q3 = cos(la + lb);
        return (int)(6378.388 * acos(0.5 * ((1.0 + q1) * q2 - (1.0 - q1) * q3)) + 1.0);
    }
    }
}
#define D(a, b) M[(a) * n + (b)]

static int read_tsp(const char *file)
{
    FILE *f = fopen(file, "r");
    char line[1024];
    int coords = 0, read = 0;
    if (!f) { perror(file); return 0; }
    while (fgets(line, sizeof line, f)) {
        if (!coords) {
            char *c = strchr(line, ':');
            if (strncmp(line, "DIMENSION", 9) == 0 && c) n = atoi(c + 1);
            else if (strncmp(line, "EDGE_WEIGHT_TYPE", 16) == 0 && c) {
                if (strstr(c, "EUC_2D")) metric = 0;
                else if (strstr(c, "CEIL_2D")) metric = 1;
                else if (strstr(c, "ATT")) metric = 2;
                else if (strstr(c, "GEO")) metric = 3;
                else { fprintf(stderr, "unsupported EDGE_WEIGHT_TYPE%s", c); return 0; }
            } else if (strncmp(line, "NODE_COORD_SECTION", 18) == 0) {
                if (n <= 0) { fprintf(stderr, "no DIMENSION before NODE_COORD_SECTION\n"); return 0; }
                X = malloc(sizeof(double) * n); Y = malloc(sizeof(double) * n);
                coords = 1;
            }
        } else {
            int id; double x, y;
            if (sscanf(line, "%d %lf %lf", &id, &x, &y) == 3 && id >= 1 && id <= n) { X[id - 1] = x; Y[id - 1] = y; read++; }
            else if (strncmp(line, "EOF", 3) == 0) break;
        }
    }
    fclose(f);
    if (read != n) { fprintf(stderr, "read %d of %d cities\n", read, n); return 0; }
    return 1;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static inline int nx(int i) { return i + 1 == n ? 0 : i + 1; }
static inline int pv(int i) { return i == 0 ? n - 1 : i - 1; }
static inline int wr(int i) { return i >= n ? i - n : i; }

/* reverse positions from..to (cyclic), or the complement when shorter: the same tour */
static void reverse(int from, int to)
{
    int len = wr(to - from + n) + 1;
    if (2 * len > n) { int f = nx(to); to = pv(from); from = f; len = n - len; }
    for (int s = 0; s < len / 2; s++) {
        int a = tour[from], b = tour[to];
        tour[from] = b; pos[b] = from; tour[to] = a; pos[a] = to;
        from = nx(from); to = pv(to);
    }
}

static long long tour_length(const int *t)
{
    long long s = 0;
    for (int i = 0; i < n; i++) s += D(t[i], t[(i + 1) % n]);
    return s;
}

int main(int argc, char **argv)
{
    if (argc < 2) { fprintf(stderr, "usage: %s file.tsp [budget-ms] [seed]\n", argv[0]); return 2; }
    double budget = (argc > 2 ? atof(argv[2]) : 5000) / 1000.0;
    uint64_t z = argc > 3 ? strtoull(argv[3], 0, 10) : 1;
    for (int i = 0; i < 4; i++) { /* splitmix64 */
        uint64_t r = (z += 0x9E3779B97F4A7C15ULL);
        r = (r ^ (r >> 30)) * 0xBF58476D1CE4E5B9ULL; r = (r ^ (r >> 27)) * 0x94D049BB133111EBULL;
        rs[i] = r ^ (r >> 31);
    }
    double t0 = now();
    if (!read_tsp(argv[1]) || n < 8) { fprintf(stderr, "need a TSPLIB file of at least 8 cities\n"); return 1; }
    M = malloc(sizeof(int) * (size_t)n * n);
    for (int a = 0; a < n; a++) for (int b = 0; b < n; b++) M[a * n + b] = a == b ? 0 : dist(a, b);
    int k = n - 1 < K ? n - 1 : K;
    nb = malloc(sizeof(int) * n * K);
    double nnsum = 0;
    for (int a = 0; a < n; a++) { /* k nearest by insertion */
        int d[K], f = 0;
        for (int b = 0; b < n; b++) {
            if (b == a) continue;
            int v = D(a, b);
            if (f == k && v >= d[k - 1]) continue;
            int at = f < k ? f++ : k - 1;
            while (at > 0 && d[at - 1] > v) { d[at] = d[at - 1]; nb[a * K + at] = nb[a * K + at - 1]; at--; }
            d[at] = v; nb[a * K + at] = b;
        }
        nnsum += d[0];
    }
    double nnmean = nnsum / n;
    tour = malloc(sizeof(int) * n); pos = malloc(sizeof(int) * n);
    int *best = malloc(sizeof(int) * n);
    char *used = calloc(n, 1);
    tour[0] = 0; used[0] = 1;
    for (int i = 1; i < n; i++) { /* nearest neighbour start */
        int from = tour[i - 1], c = -1;
        for (int b = 0; b < n; b++) if (!used[b] && (c < 0 || D(from, b) < D(from, c))) c = b;
        tour[i] = c; used[c] = 1;
    }
    for (int i = 0; i < n; i++) pos[tour[i]] = i;
    long long len = tour_length(tour), bestLen = len;
    memcpy(best, tour, sizeof(int) * n);

    double T0 = (argc > 4 ? atof(argv[4]) : 2.0) * nnmean, T1 = (argc > 5 ? atof(argv[5]) : 0.05) * nnmean, T = T0, tStart = now();
    double nextPrint = 1.0;
    long long moves = 0;
    int seg[3];
    for (;;) {
        if ((moves & 1023) == 0) {
            double el = now() - tStart;
            while (el >= nextPrint && nextPrint <= budget + 1e-9) { printf("t=%.0f %lld\n", nextPrint, bestLen); fflush(stdout); nextPrint += 1.0; }
            if (el >= budget) break;
            T = T0 * pow(T1 / T0, el / budget);
        }
        moves++;
        int a = below(n), i = pos[a];
        uint64_t r = rnd();
        int c = nb[a * K + (int)((r >> 8) % (unsigned)k)], j = pos[c];
        int delta;
        if (r & 1) { /* 2-opt: edges (a, next a) and (c, next c) become (a, c) and (next a, next c) */
            int b = tour[nx(i)], d = tour[nx(j)];
            if (b == c || d == a) continue;
            delta = D(a, c) + D(b, d) - D(a, b) - D(c, d);
            if (delta > 0 && (delta > 30 * T || unit() >= exp(-delta / T))) continue;
            reverse(nx(i), j);
        } else { /* Or-opt: segment of 1-3 cities from position i moved next to c, a near neighbour of its first city */
            int L = 1 + (int)((r >> 40) % 3);
            if (L + 3 > n) continue;
            int last = wr(i + L - 1), p = tour[pv(i)], q = tour[nx(last)];
            if (wr(j - i + n) < L) continue;                 /* c inside the segment */
            int after = (r >> 2) & 1;                       /* insert between c and its successor, or its predecessor */
            int e = tour[after ? nx(j) : pv(j)];
            if (wr(pos[e] - i + n) < L) continue;
            int s1 = tour[i], s2 = tour[last];
            /* put the segment between c and e so that a = s1 touches c: c-s1..s2-e */
            delta = D(p, q) - D(p, s1) - D(s2, q) + D(c, s1) + D(s2, e) - D(c, e);
            if ((c == p && after) || (e == p && !after)) continue; /* the edge (c, e) is one the move removes */
            if ((c == q && !after) || (e == q && after)) continue;
            if (delta > 0 && (delta > 30 * T || unit() >= exp(-delta / T))) continue;
            /* rebuild: take the segment out, shift the stretch between, write it back (the shorter side) */
            for (int s = 0; s < L; s++) seg[s] = tour[wr(i + s)];
            int g = after ? j : pos[e];                        /* gap between positions g and g+1 */
            int firstAtG = tour[g] == c;                        /* c at g: s1 comes first */
            int fwd = wr(g - last + n), bwd = n - L - fwd, tgt;
            if (fwd <= bwd) {
                for (int s = 0, to = i, fp = wr(i + L); s < fwd; s++, to = nx(to), fp = nx(fp)) { tour[to] = tour[fp]; pos[tour[to]] = to; }
                tgt = wr(i + fwd);
            } else {
                for (int s = 0, fp = pv(i), to = last; s < bwd; s++, fp = pv(fp), to = pv(to)) { tour[to] = tour[fp]; pos[tour[to]] = to; }
                tgt = nx(g);
            }
            for (int s = 0; s < L; s++) { int city = seg[firstAtG ? s : L - 1 - s]; tour[tgt] = city; pos[city] = tgt; tgt = nx(tgt); }
        }
        len += delta;
        if (len < bestLen) { bestLen = len; memcpy(best, tour, sizeof(int) * n); }
    }
    long long check = tour_length(best);
    if (check != bestLen) { fprintf(stderr, "internal error: tracked %lld, tour %lld\n", bestLen, check); return 1; }
    printf("final %lld moves %lld elapsed_ms %.0f\n", bestLen, moves, (now() - t0) * 1000);
    return 0;
}
