package io.cdcfanout.api.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.mockito.Mockito.mock;

import io.cdcfanout.api.sink.Sink;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Every builder validates in build() with a message naming the parameter, the rule and the value. */
class BuildersTest {
    @SuppressWarnings("unchecked")
    private final Sink<Object> sink = mock(Sink.class);

    private static String iae(org.junit.jupiter.api.function.Executable e) {
        return assertThrows(IllegalArgumentException.class, e).getMessage();
    }

    private static String ise(org.junit.jupiter.api.function.Executable e) {
        return assertThrows(IllegalStateException.class, e).getMessage();
    }

    @Test
    void bufferPolicy() {
        assertEquals("maxEvents must be at least 1 (was 0)", iae(() -> BufferPolicy.builder().maxEvents(0).build()));
        assertEquals("maxBytes must be at least 1 (was -5)", iae(() -> BufferPolicy.builder().maxBytes(-5).build()));
        assertEquals("maxAge must not be negative (was PT-0.001S)",
                iae(() -> BufferPolicy.builder().maxAge(Duration.ofMillis(-1)).build()));
        assertEquals("capacity must be at least 1 (was 0)", iae(() -> BufferPolicy.builder().capacity(0).build()));
        assertEquals("offerTimeout must not be negative (was PT-1S)",
                iae(() -> BufferPolicy.builder().offerTimeout(Duration.ofSeconds(-1)).build()));
        assertEquals("capacity (10) must be at least maxEvents (500), or the count trigger could never fire",
                ise(() -> BufferPolicy.builder().capacity(10).build()));
        assertEquals("maxAge must not be null",
                assertThrows(NullPointerException.class, () -> BufferPolicy.builder().maxAge(null)).getMessage());
        BufferPolicy p = BufferPolicy.defaults();
        assertEquals(BufferPolicy.DEFAULT_MAX_EVENTS, p.maxEvents());
        assertEquals(p.toString(), p.toBuilder().build().toString());
    }

    @Test
    void retryPolicy() {
        assertEquals("maxAttempts must be at least 1 (was 0)", iae(() -> RetryPolicy.builder().maxAttempts(0).build()));
        assertEquals("initialBackoff must be at least 1 ms (was PT0S)",
                iae(() -> RetryPolicy.builder().initialBackoff(Duration.ZERO).build()));
        assertEquals("multiplier must be at least 1.0 (was 0.5)", iae(() -> RetryPolicy.builder().multiplier(0.5).build()));
        assertEquals("multiplier must be at least 1.0 (was NaN)",
                iae(() -> RetryPolicy.builder().multiplier(Double.NaN).build()));
        assertEquals("jitter must be at least 0 and below 1 (was 1.0)", iae(() -> RetryPolicy.builder().jitter(1).build()));
        assertEquals("maxBackoff (PT0.05S) must be at least initialBackoff (PT0.1S)",
                ise(() -> RetryPolicy.builder().maxBackoff(Duration.ofMillis(50)).build()));
        assertEquals(1, RetryPolicy.none().maxAttempts());
    }

    @Test
    void route() {
        assertEquals("name must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit (was 'a b')",
                iae(() -> Route.builder("a b")));
        assertEquals("route 'archive' needs a sink: call sink(...) before build()",
                ise(() -> Route.builder("archive").build()));
        assertEquals("operations must name at least one operation", iae(() -> Route.builder("r").operations()));
        assertEquals("sink must not be null",
                assertThrows(NullPointerException.class, () -> Route.builder("r").sink(null)).getMessage());
    }

    @Test
    void pipeline() {
        assertEquals("a pipeline needs at least one route: call route(...) before build()",
                ise(() -> Pipeline.builder().build()));
        assertEquals("route names must be unique ('a' is used twice)", ise(() -> Pipeline.builder()
                .route(Route.builder("a").sink(sink).build()).route(Route.builder("a").sink(sink).build()).build()));
        assertEquals("closeTimeout must not be negative (was PT-1S)", iae(() -> Pipeline.builder()
                .route(Route.builder("a").sink(sink).build()).closeTimeout(Duration.ofSeconds(-1)).build()));
    }
}
