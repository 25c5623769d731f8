package io.cdcfanout.benchmarks;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Small SVG charts the benchmark programs write next to their tables in docs/performance.md: line
 * charts of (x, y) series and empirical distribution functions (CDFs) of latencies. No dependency:
 * plain SVG text.
 */
final class Plot {
    private static final String[] COLORS = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"};
    private static final int W = 720;
    private static final int H = 420;
    private static final int LEFT = 92;
    private static final int RIGHT = 190;
    private static final int TOP = 40;
    private static final int BOTTOM = 50;

    private Plot() {
    }

    /** The directory charts go to: {@code -Dplots=<dir>}, by default {@code ../docs/img} (run from the module). */
    static Path dir() {
        return Path.of(System.getProperty("plots", "../docs/img"));
    }

    /** A CDF per series of latencies in milliseconds, x on a log scale from the smallest sample. */
    static void cdf(Path file, String title, Map<String, List<Double>> series) {
        Map<String, double[][]> lines = new java.util.LinkedHashMap<>();
        series.forEach((name, values) -> {
            double[] sorted = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            double[][] points = new double[sorted.length][];
            for (int i = 0; i < sorted.length; i++) {
                points[i] = new double[] {Math.max(sorted[i], 0.01), (i + 1) / (double) sorted.length};
            }
            lines.put(name, points);
        });
        write(file, title, "latency (ms, log scale)", "share of events at or below", lines, true, true);
    }

    /** Line charts of (x, y) points, linear axes from 0. */
    static void lines(Path file, String title, String xLabel, String yLabel, Map<String, double[][]> series) {
        write(file, title, xLabel, yLabel, series, false, false);
    }

    private static void write(Path file, String title, String xLabel, String yLabel, Map<String, double[][]> series,
            boolean logX, boolean step) {
        double minX = Double.MAX_VALUE;
        double maxX = 0;
        double maxY = 0;
        for (double[][] points : series.values()) {
            for (double[] p : points) {
                minX = Math.min(minX, p[0]);
                maxX = Math.max(maxX, p[0]);
                maxY = Math.max(maxY, p[1]);
            }
        }
        double lo = logX ? Math.pow(10, Math.floor(Math.log10(minX))) : 0;
        double hi = logX ? Math.pow(10, Math.ceil(Math.log10(maxX))) : nice(maxX);
        double top = step ? 1 : nice(maxY);
        int plotW = W - LEFT - RIGHT;
        int plotH = H - TOP - BOTTOM;
        java.util.function.DoubleUnaryOperator sx = x -> LEFT + plotW * (logX
                ? (Math.log10(x) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo)) : (x - lo) / (hi - lo));
        java.util.function.DoubleUnaryOperator sy = y -> TOP + plotH * (1 - y / top);
        StringBuilder svg = new StringBuilder();
        svg.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                + "font-family=\"sans-serif\" font-size=\"12\">%n", W, H));
        svg.append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
        svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"22\" font-size=\"15\">%s</text>%n", LEFT, esc(title)));
        // Grid and ticks.
        List<Double> xTicks = new ArrayList<>();
        if (logX) {
            for (double t = lo; t <= hi * 1.0001; t *= 10) {
                xTicks.add(t);
            }
        } else {
            for (int i = 0; i <= 5; i++) {
                xTicks.add(hi * i / 5);
            }
        }
        for (double t : xTicks) {
            double x = sx.applyAsDouble(t);
            svg.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>%n",
                    x, TOP, x, TOP + plotH));
            svg.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>%n",
                    x, TOP + plotH + 16, label(t)));
        }
        for (int i = 0; i <= 5; i++) {
            double v = top * i / 5;
            double y = sy.applyAsDouble(v);
            svg.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>%n",
                    LEFT, y, LEFT + plotW, y));
            svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>%n",
                    LEFT - 6, y + 4, label(v)));
        }
        svg.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
                + "stroke=\"#333\"/>%n", LEFT, TOP, plotW, plotH));
        svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>%n",
                LEFT + plotW / 2, H - 12, esc(xLabel)));
        svg.append(String.format(Locale.ROOT, "<text x=\"16\" y=\"%d\" text-anchor=\"middle\" "
                + "transform=\"rotate(-90 16 %d)\">%s</text>%n", TOP + plotH / 2, TOP + plotH / 2, esc(yLabel)));
        int c = 0;
        for (Map.Entry<String, double[][]> s : series.entrySet()) {
            String color = COLORS[c % COLORS.length];
            StringBuilder path = new StringBuilder();
            double[][] points = s.getValue();
            for (int i = 0; i < points.length; i++) {
                double x = sx.applyAsDouble(points[i][0]);
                double y = sy.applyAsDouble(points[i][1]);
                if (i == 0) {
                    path.append(String.format(Locale.ROOT, "M%.1f,%.1f", x, step ? sy.applyAsDouble(0) : y));
                    if (step) {
                        path.append(String.format(Locale.ROOT, " L%.1f,%.1f", x, y));
                    }
                } else {
                    if (step) {
                        path.append(String.format(Locale.ROOT, " L%.1f,%.1f", x, sy.applyAsDouble(points[i - 1][1])));
                    }
                    path.append(String.format(Locale.ROOT, " L%.1f,%.1f", x, y));
                }
            }
            svg.append(String.format(Locale.ROOT, "<path d=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"/>%n",
                    path, color));
            if (!step) {
                for (double[] p : points) {
                    svg.append(String.format(Locale.ROOT, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>%n",
                            sx.applyAsDouble(p[0]), sy.applyAsDouble(p[1]), color));
                }
            }
            int ly = TOP + 10 + c * 20;
            svg.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" "
                    + "stroke-width=\"3\"/>%n", LEFT + plotW + 12, ly, LEFT + plotW + 32, ly, color));
            svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\">%s</text>%n", LEFT + plotW + 38, ly + 4,
                    esc(s.getKey())));
            c++;
        }
        svg.append("</svg>\n");
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            Files.writeString(file, svg, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        System.out.println("wrote " + file);
    }

    private static double nice(double max) {
        if (max <= 0) {
            return 1;
        }
        double p = Math.pow(10, Math.floor(Math.log10(max)));
        for (double m : new double[] {1, 2, 2.5, 5, 10}) {
            if (m * p >= max) {
                return m * p;
            }
        }
        return 10 * p;
    }

    private static String label(double v) {
        if (v >= 1000) {
            return String.format(Locale.ROOT, "%,.0f", v);
        }
        return v == Math.rint(v) ? String.format(Locale.ROOT, "%.0f", v) : String.format(Locale.ROOT, "%.2f", v);
    }

    private static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }
}
