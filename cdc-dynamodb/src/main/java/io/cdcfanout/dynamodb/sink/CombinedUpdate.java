package io.cdcfanout.dynamodb.sink;

import java.math.BigDecimal;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/**
 * Several updates of one view item combined into one: numeric ADDs summed per attribute, and SET and
 * REMOVE in order, the last one of an attribute winning. Only updates in the simple form combine:
 * top-level attributes, {@code SET a = :v}, {@code ADD a :n} with a number, {@code REMOVE a}; any other
 * (functions, arithmetic, nested paths, set-valued ADD, DELETE) returns null from {@link #of}, and its
 * updates are applied one by one instead. Immutable.
 */
final class CombinedUpdate {
    private static final Pattern CLAUSE = Pattern.compile("(?i)\\b(SET|ADD|REMOVE|DELETE)\\b");
    private static final Pattern NAME = Pattern.compile("#?[A-Za-z_][A-Za-z0-9_]*");
    private static final Pattern VALUE = Pattern.compile(":[A-Za-z0-9_]+");

    final String expression;
    final Map<String, String> names;
    final Map<String, AttributeValue> values;

    private CombinedUpdate(String expression, Map<String, String> names, Map<String, AttributeValue> values) {
        this.expression = expression;
        this.names = names;
        this.values = values;
    }

    /** The updates combined, in order; null if one of them is not in the simple form. */
    static CombinedUpdate of(List<ViewUpdate> updates) {
        Map<String, BigDecimal> adds = new LinkedHashMap<>();
        Map<String, AttributeValue> lastSet = new LinkedHashMap<>(); // null value: removed
        for (ViewUpdate u : updates) {
            if (!parse(u, adds, lastSet)) {
                return null;
            }
        }
        Map<String, String> names = new HashMap<>();
        Map<String, AttributeValue> values = new HashMap<>();
        StringBuilder set = new StringBuilder();
        StringBuilder remove = new StringBuilder();
        StringBuilder add = new StringBuilder();
        int n = 0;
        for (Map.Entry<String, AttributeValue> e : lastSet.entrySet()) {
            String name = "#v" + n;
            names.put(name, e.getKey());
            if (e.getValue() == null) {
                remove.append(remove.length() == 0 ? "" : ", ").append(name);
            } else {
                values.put(":v" + n, e.getValue());
                set.append(set.length() == 0 ? "" : ", ").append(name).append(" = :v").append(n);
            }
            n++;
        }
        for (Map.Entry<String, BigDecimal> e : adds.entrySet()) {
            String name = "#v" + n;
            names.put(name, e.getKey());
            values.put(":v" + n, AttributeValue.builder().n(e.getValue().toPlainString()).build());
            add.append(add.length() == 0 ? "" : ", ").append(name).append(" :v").append(n);
            n++;
        }
        StringBuilder expression = new StringBuilder();
        if (set.length() > 0) {
            expression.append("SET ").append(set);
        }
        if (remove.length() > 0) {
            expression.append(expression.length() == 0 ? "" : " ").append("REMOVE ").append(remove);
        }
        if (add.length() > 0) {
            expression.append(expression.length() == 0 ? "" : " ").append("ADD ").append(add);
        }
        if (expression.length() == 0) {
            return null;
        }
        return new CombinedUpdate(expression.toString(), names, values);
    }

    /** Adds one update's actions; false if it is not in the simple form. */
    private static boolean parse(ViewUpdate u, Map<String, BigDecimal> adds, Map<String, AttributeValue> lastSet) {
        String expr = u.updateExpression();
        Matcher m = CLAUSE.matcher(expr);
        int start = -1;
        String keyword = null;
        if (!expr.substring(0, Math.max(0, nextClause(expr, 0))).isBlank()) {
            return false;
        }
        while (true) {
            boolean found = m.find();
            if (keyword != null) {
                String body = expr.substring(start, found ? m.start() : expr.length()).trim();
                if (!clause(keyword, body, u, adds, lastSet)) {
                    return false;
                }
            }
            if (!found) {
                return keyword != null;
            }
            keyword = m.group(1).toUpperCase(Locale.ROOT);
            start = m.end();
        }
    }

    private static int nextClause(String expr, int from) {
        Matcher m = CLAUSE.matcher(expr);
        return m.find(from) ? m.start() : expr.length();
    }

    private static boolean clause(String keyword, String body, ViewUpdate u, Map<String, BigDecimal> adds,
            Map<String, AttributeValue> lastSet) {
        if (body.isEmpty()) {
            return false;
        }
        for (String action : body.split(",")) {
            String a = action.trim();
            switch (keyword) {
                case "SET": {
                    int eq = a.indexOf('=');
                    if (eq < 0) {
                        return false;
                    }
                    String path = attribute(a.substring(0, eq).trim(), u);
                    String operand = a.substring(eq + 1).trim();
                    if (path == null || !VALUE.matcher(operand).matches() || !u.values().containsKey(operand)
                            || adds.containsKey(path)) {
                        return false;
                    }
                    lastSet.remove(path); // keep the order of the last action on each attribute
                    lastSet.put(path, u.values().get(operand));
                    break;
                }
                case "REMOVE": {
                    String path = attribute(a, u);
                    if (path == null || adds.containsKey(path)) {
                        return false;
                    }
                    lastSet.remove(path);
                    lastSet.put(path, null);
                    break;
                }
                case "ADD": {
                    String[] parts = a.split("\\s+");
                    if (parts.length != 2) {
                        return false;
                    }
                    String path = attribute(parts[0], u);
                    AttributeValue v = u.values().get(parts[1]);
                    if (path == null || v == null || v.n() == null || lastSet.containsKey(path)) {
                        return false;
                    }
                    adds.merge(path, new BigDecimal(v.n()), BigDecimal::add);
                    break;
                }
                default:
                    return false; // DELETE (from a set) is not combined
            }
        }
        return true;
    }

    /** The attribute a path names, or null if it is not a top-level name. */
    private static String attribute(String path, ViewUpdate u) {
        if (!NAME.matcher(path).matches()) {
            return null;
        }
        return path.startsWith("#") ? u.names().get(path) : path;
    }
}
