package io.flowsec.testbed.bench.tunnel;

import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.CategoryAxis;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.labels.ItemLabelAnchor;
import org.jfree.chart.labels.ItemLabelPosition;
import org.jfree.chart.labels.StandardCategoryItemLabelGenerator;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.renderer.category.BarRenderer;
import org.jfree.chart.renderer.category.StandardBarPainter;
import org.jfree.chart.ui.TextAnchor;
import org.jfree.data.category.CategoryDataset;
import org.jfree.data.category.DefaultCategoryDataset;

import javax.imageio.ImageIO;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.Paint;
import java.awt.RenderingHints;
import java.awt.geom.Rectangle2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * {@code flowsec bench tunnel}'s chart: one panel per test, in its own unit and from 0, a bar per tunnel with its value
 * written on it (plain routing's bar can be tens of times the others', and the numbers keep the small ones readable).
 * Each tunnel keeps its colour in every panel and run: plain light grey, wireguard green, and flowsec's modes as in
 * the other benchmarks' charts (single dark grey, pcrypt orange, flow blue).
 */
public final class TunnelChart {
    static {
        // as ThroughputChart: servers have no display, and this must be set before AWT starts
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true");
        }
    }

    public static final int PANEL_WIDTH = 420;
    public static final int PANEL_HEIGHT = 330;
    private static final int COLUMNS = 3;
    private static final int TITLE_HEIGHT = 64;
    private static final Map<String, Color> COLOURS = Map.of(
            TunnelOptions.PLAIN, new Color(0xB4, 0xB4, 0xB4),
            TunnelOptions.WIREGUARD, new Color(0x2C, 0xA0, 0x2C),
            "single", new Color(0x40, 0x40, 0x40),
            "pcrypt", new Color(0xE6, 0x7E, 0x00),
            "flow", new Color(0x1F, 0x5F, 0xBF));
    private static final Color OTHER = new Color(0x94, 0x67, 0xBD);

    private TunnelChart() {
    }

    public static void write(Path file, String machine, List<TunnelResult> results) throws IOException {
        ImageIO.write(create(machine, results), "png", file.toFile());
    }

    /** The panels, {@value #COLUMNS} to a row, under the title and the machine. */
    public static BufferedImage create(String machine, List<TunnelResult> results) {
        List<TunnelTest> tests = TunnelReport.tests(results);
        int columns = Math.max(1, Math.min(COLUMNS, tests.size()));
        int rows = Math.max(1, (tests.size() + columns - 1) / columns);
        BufferedImage image = new BufferedImage(columns * PANEL_WIDTH, TITLE_HEIGHT + rows * PANEL_HEIGHT,
                BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, image.getWidth(), image.getHeight());
            g.setColor(Color.BLACK);
            g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 18));
            centred(g, "Host A to host B through each tunnel (flowsec bench tunnel)", image.getWidth(), 26);
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
            centred(g, machine, image.getWidth(), 50);
            for (int i = 0; i < tests.size(); i++) {
                panel(tests.get(i), results).draw(g, new Rectangle2D.Double((i % columns) * PANEL_WIDTH,
                        TITLE_HEIGHT + (i / columns) * PANEL_HEIGHT, PANEL_WIDTH, PANEL_HEIGHT));
            }
        } finally {
            g.dispose();
        }
        return image;
    }

    private static void centred(Graphics2D g, String text, int width, int baseline) {
        g.drawString(text, (width - g.getFontMetrics().stringWidth(text)) / 2, baseline);
    }

    /** One test: a bar per tunnel, in the order they ran. */
    static JFreeChart panel(TunnelTest test, List<TunnelResult> results) {
        DefaultCategoryDataset dataset = new DefaultCategoryDataset();
        for (String tunnel : TunnelReport.tunnels(results)) {
            TunnelResult r = TunnelReport.find(results, tunnel, test);
            if (r != null) {
                dataset.addValue(r.value(), test.label(), tunnel);
            }
        }
        BarRenderer renderer = new BarRenderer() {
            @Override
            public Paint getItemPaint(int row, int column) {
                return COLOURS.getOrDefault((String) getPlot().getDataset().getColumnKey(column), OTHER);
            }
        };
        renderer.setBarPainter(new StandardBarPainter());
        renderer.setShadowVisible(false);
        renderer.setItemMargin(0);
        renderer.setDefaultItemLabelGenerator(new StandardCategoryItemLabelGenerator() {
            @Override
            public String generateLabel(CategoryDataset data, int row, int column) {
                Number v = data.getValue(row, column);
                return v == null ? "" : TunnelReport.value(v.doubleValue());
            }
        });
        renderer.setDefaultItemLabelsVisible(true);
        renderer.setDefaultItemLabelFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        renderer.setDefaultPositiveItemLabelPosition(new ItemLabelPosition(ItemLabelAnchor.OUTSIDE12,
                TextAnchor.BOTTOM_CENTER));

        NumberAxis values = new NumberAxis(test.unit());
        values.setAutoRangeIncludesZero(true);
        values.setUpperMargin(0.15);   // room for the label above the tallest bar
        CategoryPlot plot = new CategoryPlot(dataset, new CategoryAxis(null), values, renderer);
        plot.setBackgroundPaint(Color.WHITE);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        JFreeChart chart = new JFreeChart(test.label(), new Font(Font.SANS_SERIF, Font.BOLD, 14), plot, false);
        chart.setBackgroundPaint(Color.WHITE);
        return chart;
    }
}
