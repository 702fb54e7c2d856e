// Why: API Gateway runs mapping templates on Java Velocity (1.7 semantics), not on the Python renderer the
// pytest suite uses; this renders the same templates on Apache Velocity 1.7 itself, with a small
// $input/$util/$context stand-in, so Java-only behaviour (regex String.split, #set of null, Boolean and
// Number comparison, commons-lang escapeJavaScript) is exercised too.
//
// Run: java -cp <velocity, commons-collections3, commons-lang 2, jackson jars> VelocityRender.java < jobs.json
// jobs.json: [{"template": "...", "requestTimeEpoch": 1700000000000, "body": "...",
//              "params": {"path": {}, "querystring": {}, "header": {}}}, ...]
// Prints a JSON array with, per job, {"body": rendered text, "status": the template's
// $context.responseOverride.status or null, "headers": its $context.responseOverride.header map} (or
// {"error": "..."} for a job that threw). API Gateway applies those overrides after the template runs.

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.commons.lang.StringEscapeUtils;
import org.apache.velocity.VelocityContext;
import org.apache.velocity.app.VelocityEngine;
import org.apache.velocity.runtime.RuntimeConstants;

public class VelocityRender {
    static final ObjectMapper JSON = new ObjectMapper();

    /** $util: the API Gateway helpers the templates use, backed by the libraries AWS documents. */
    public static class Util {
        public String escapeJavaScript(String s) {
            return StringEscapeUtils.escapeJavaScript(s);
        }

        public Object parseJson(String s) throws Exception {
            return JSON.readValue(s, Object.class);
        }
    }

    /** $input: params() as API Gateway's three maps, path('$') as the parsed body. */
    public static class Input {
        private final Map<String, Map<String, String>> params;
        private final String body;

        Input(Map<String, Map<String, String>> params, String body) {
            this.params = params;
            this.body = body;
        }

        public Map<String, Map<String, String>> params() {
            return params;
        }

        public String params(String name) {
            for (String kind : new String[] {"path", "querystring", "header"}) {
                String v = params.get(kind).get(name);
                if (v != null) return v;
            }
            return "";
        }

        public String getBody() {
            return body;
        }

        public Object path(String path) throws Exception {
            if (!path.equals("$")) throw new IllegalArgumentException("only $ is supported: " + path);
            if (body == null || body.isEmpty()) return new LinkedHashMap<String, Object>();
            return JSON.readValue(body, Object.class);
        }
    }

    @SuppressWarnings("unchecked")
    public static void main(String[] args) throws Exception {
        VelocityEngine engine = new VelocityEngine();
        engine.setProperty(RuntimeConstants.RUNTIME_LOG_LOGSYSTEM_CLASS, "org.apache.velocity.runtime.log.NullLogChute");
        engine.init();

        String stdin = new String(System.in.readAllBytes(), StandardCharsets.UTF_8);
        List<Map<String, Object>> jobs = JSON.readValue(stdin, List.class);
        List<Object> out = new ArrayList<>();
        for (Map<String, Object> job : jobs) {
            try {
                Map<String, Map<String, String>> params = new LinkedHashMap<>();
                Map<String, Object> given = (Map<String, Object>) job.get("params");
                for (String kind : new String[] {"path", "querystring", "header"}) {
                    Map<String, String> m = new LinkedHashMap<>();
                    if (given != null && given.get(kind) != null) m.putAll((Map<String, String>) given.get(kind));
                    params.put(kind, m);
                }
                Map<String, Object> context = new LinkedHashMap<>();
                context.put("requestTimeEpoch", ((Number) job.get("requestTimeEpoch")).longValue());
                context.put("stage", "test");
                Map<String, Object> responseOverride = new LinkedHashMap<>();
                responseOverride.put("header", new LinkedHashMap<String, Object>());
                context.put("responseOverride", responseOverride);

                VelocityContext vc = new VelocityContext();
                vc.put("input", new Input(params, (String) job.get("body")));
                vc.put("util", new Util());
                vc.put("context", context);
                StringWriter w = new StringWriter();
                engine.evaluate(vc, w, "template", (String) job.get("template"));
                Map<String, Object> rendered = new LinkedHashMap<>();
                rendered.put("body", w.toString());
                rendered.put("status", responseOverride.get("status"));
                rendered.put("headers", responseOverride.get("header"));
                out.add(rendered);
            } catch (Exception e) {
                Map<String, String> err = new LinkedHashMap<>();
                err.put("error", e.toString());
                out.add(err);
            }
        }
        System.out.write(JSON.writeValueAsBytes(out));
        System.out.flush();
    }
}
