/* SVG line plots (see svgplot.h). */
#include "core/svgplot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sbuf.h"

static const char *PALETTE[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                                "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#000000", "#aec7e8"};

void rlc_plot_num(char *buf, int cap, double v) {
    double a = fabs(v);
    if (a >= 1e9) snprintf(buf, (size_t)cap, "%gG", v / 1e9);
    else if (a >= 1e6) snprintf(buf, (size_t)cap, "%gM", v / 1e6);
    else if (a >= 1e3) snprintf(buf, (size_t)cap, "%gk", v / 1e3);
    else snprintf(buf, (size_t)cap, "%g", v);
}

typedef struct {
    double x0, x1, y0, y1; /* data range (x in log10 when logx) */
    double L, T, pw, ph;
    int logx;
} frame_t;

static double fx(const frame_t *f, double x) {
    double v = f->logx ? log10(x) : x;
    return f->L + f->pw * (v - f->x0) / (f->x1 - f->x0);
}
static double fy(const frame_t *f, double y) { return f->T + f->ph - f->ph * (y - f->y0) / (f->y1 - f->y0); }

static int ok_point(const frame_t *f, double x, double y) { return isfinite(x) && isfinite(y) && (!f->logx || x > 0); }

/* The data range; a single value is widened so that it sits in the middle. */
static void data_range(const rlc_plot_t *p, const rlc_plot_series_t *s, int n, frame_t *f) {
    f->x0 = f->y0 = INFINITY, f->x1 = f->y1 = -INFINITY;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < s[i].n; k++) {
            if (!ok_point(f, s[i].x[k], s[i].y[k])) continue;
            double x = f->logx ? log10(s[i].x[k]) : s[i].x[k];
            f->x0 = fmin(f->x0, x), f->x1 = fmax(f->x1, x);
            f->y0 = fmin(f->y0, s[i].y[k]), f->y1 = fmax(f->y1, s[i].y[k]);
        }
    if (!isfinite(f->x0)) f->x0 = 0, f->x1 = 1, f->y0 = 0, f->y1 = 1;
    if (f->x1 <= f->x0) f->x0 -= 0.5, f->x1 += 0.5;
    if (p->ymax > p->ymin) f->y0 = p->ymin, f->y1 = p->ymax;
    else if (f->y1 <= f->y0) f->y0 -= 0.5, f->y1 += 0.5;
    else {
        double pad = 0.05 * (f->y1 - f->y0);
        f->y0 -= pad, f->y1 += pad;
    }
}

/* A "nice" tick step for a range: 1, 2 or 5 times a power of ten, about 5 ticks. */
static double nice_step(double range) {
    if (!(range > 0)) return 1;
    double raw = range / 5, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

static void x_ticks(rlc_sbuf_t *b, const rlc_plot_t *p, const rlc_plot_series_t *s, int n, const frame_t *f) {
    char lab[32];
    double yb = f->T + f->ph;
    if (p->x_ticks_data) { /* every distinct x, once */
        for (int i = 0; i < n; i++)
            for (int k = 0; k < s[i].n; k++) {
                double x = s[i].x[k];
                if (!ok_point(f, x, s[i].y[k])) continue;
                int seen = 0;
                for (int j = 0; j <= i && !seen; j++)
                    for (int q = 0; q < (j < i ? s[j].n : k) && !seen; q++) seen = s[j].x[q] == x;
                if (seen) continue;
                rlc_plot_num(lab, sizeof lab, x);
                rlc_sbuf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", fx(f, x), yb + 18, lab);
            }
        return;
    }
    if (f->logx) { /* powers of ten, and 2x / 5x when the range is under two decades */
        int dense = f->x1 - f->x0 < 2;
        for (int e = (int)floor(f->x0); e <= (int)ceil(f->x1); e++)
            for (int m = 1; m <= 5; m += dense ? (m == 1 ? 1 : 3) : 9) {
                double x = m * pow(10, e), lx = log10(x);
                if (lx < f->x0 - 1e-9 || lx > f->x1 + 1e-9) continue;
                rlc_plot_num(lab, sizeof lab, x);
                rlc_sbuf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>\n", fx(f, x), f->T,
                                fx(f, x), yb);
                rlc_sbuf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", fx(f, x), yb + 18, lab);
            }
        return;
    }
    double st = nice_step(f->x1 - f->x0);
    for (double x = ceil(f->x0 / st) * st; x <= f->x1 + 1e-9 * st; x += st) {
        rlc_plot_num(lab, sizeof lab, fabs(x) < 1e-12 * st ? 0 : x);
        rlc_sbuf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>\n", fx(f, x), f->T,
                        fx(f, x), yb);
        rlc_sbuf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", fx(f, x), yb + 18, lab);
    }
}

static void series(rlc_sbuf_t *b, const rlc_plot_series_t *s, int i, const frame_t *f) {
    const char *c = s->color ? s->color : PALETTE[i % 12];
    rlc_sbuf_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"", c,
                    s->dashed ? " stroke-dasharray=\"6 4\"" : "");
    int first = 1;
    for (int k = 0; k < s->n; k++) {
        if (!ok_point(f, s->x[k], s->y[k])) continue;
        rlc_sbuf_printf(b, "%s%.1f,%.1f", first ? "" : " ", fx(f, s->x[k]), fy(f, s->y[k]));
        first = 0;
    }
    rlc_sbuf_printf(b, "\"/>\n");
    for (int k = 0; k < s->n && s->n <= 40; k++) /* markers only where they stay readable */
        if (ok_point(f, s->x[k], s->y[k]))
            rlc_sbuf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", fx(f, s->x[k]), fy(f, s->y[k]), c);
    double ly = f->T + 10 + 20.0 * i, lx = f->L + f->pw + 12;
    rlc_sbuf_printf(b,
                    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"%s/>\n"
                    "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n",
                    lx, ly, lx + 20, ly, c, s->dashed ? " stroke-dasharray=\"6 4\"" : "", lx + 26, ly + 4,
                    s->name ? s->name : "");
}

char *rlc_plot_svg(const rlc_plot_t *p, const rlc_plot_series_t *s, int n) {
    const int W = 680, H = 420, L = 64, R = 200, T = 32, B = 52;
    frame_t f = {.L = L, .T = T, .pw = W - L - R, .ph = H - T - B, .logx = p->logx};
    data_range(p, s, n, &f);
    rlc_sbuf_t b = {0};
    rlc_sbuf_printf(&b,
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                    "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n"
                    "<text x=\"%.1f\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">%s</text>\n",
                    W, H, W, H, W, H, L + f.pw / 2, p->title ? p->title : "");
    char lab[32];
    double ys = nice_step(f.y1 - f.y0);
    for (double y = ceil(f.y0 / ys) * ys; y <= f.y1 + 1e-9 * ys; y += ys) { /* y grid and ticks */
        rlc_sbuf_printf(&b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", L, fy(&f, y), L + f.pw,
                        fy(&f, y));
        rlc_plot_num(lab, sizeof lab, fabs(y) < 1e-12 * ys ? 0 : y);
        rlc_sbuf_printf(&b, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", L - 6, fy(&f, y) + 4, lab);
    }
    x_ticks(&b, p, s, n, &f);
    rlc_sbuf_printf(&b,
                    "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n"
                    "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%.1f\" stroke=\"black\"/>\n"
                    "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n"
                    "<text x=\"16\" y=\"%.1f\" text-anchor=\"middle\" transform=\"rotate(-90 16 %.1f)\">%s</text>\n",
                    L, T + f.ph, L + f.pw, T + f.ph, L, T, L, T + f.ph, L + f.pw / 2, H - 12,
                    p->xlabel ? p->xlabel : "", T + f.ph / 2, T + f.ph / 2, p->ylabel ? p->ylabel : "");
    for (int i = 0; i < n; i++) series(&b, &s[i], i, &f);
    rlc_sbuf_printf(&b, "</svg>\n");
    return rlc_sbuf_done(&b);
}
