// INJECTION rules (T1190). RE2 syntax: every pattern runs in time linear in
// its input (no backreferences, no lookaround), so hostile input cannot stall
// the agent. Each rule says which parts of a request it applies to: SSRF
// targets only make sense in parameters and bodies (a Host header naming the
// metadata service is a workload legitimately calling it), and a body, which
// may carry documents, needs stronger evidence than a request line.

export type InjectionFamily = 'sqli' | 'command' | 'path-traversal' | 'ssrf' | 'template' | 'log4shell';
/** Where in the request a value came from. */
export type FieldClass = 'path' | 'query' | 'header' | 'body';

export interface InjectionRule {
  id: string;
  family: InjectionFamily;
  /** RE2 syntax, matched case-insensitively and unanchored. */
  pattern: string;
  fields: readonly FieldClass[];
}

const ALL: readonly FieldClass[] = ['path', 'query', 'header', 'body'];
const REQUEST_LINE_AND_HEADERS: readonly FieldClass[] = ['path', 'query', 'header'];
const PARAMETERS: readonly FieldClass[] = ['query', 'body'];
// A shell separator that starts a new command: ; | || && $( and backquote.
const SHELL_SEP = String.raw`(?:;|\|\|?|&&|\$\(|` + '`' + ')';
const SHELL_END = String.raw`(?:\s*$|\s*[;|&` + '`' + ')])';

export const INJECTION_RULES: readonly InjectionRule[] = [
  // SQL injection
  { id: 'sqli-quote-tautology', family: 'sqli', fields: ALL,
    pattern: String.raw`['"]\s*\)?\s*(?:or|and|\|\||&&)\s+\(?\s*['"]?\w*['"]?\s*(?:=|<>|!=|like\b)` },
  { id: 'sqli-numeric-tautology', family: 'sqli', fields: ALL,
    pattern: String.raw`\d\s+(?:or|and)\s+\d+\s*=\s*\d+|\b(?:or|and)\s+\d+\s*=\s*\d+\s*(?:--|#|/\*|;)` },
  { id: 'sqli-union-select', family: 'sqli', fields: ALL,
    pattern: String.raw`\bunion(?:\s|/\*[^*]{0,20}\*/|\+)+(?:all(?:\s|/\*[^*]{0,20}\*/|\+)+|distinct\s+)?select(?:\s|/\*[^*]{0,20}\*/|\+)+(?:null\b|\d|@@|char\s*\(|concat|\*|[\w.]+\s*,|[\w.()]+\s+from\b)` },
  { id: 'sqli-stacked-query', family: 'sqli', fields: ALL,
    pattern: String.raw`;\s*(?:drop\s+(?:table|database)|delete\s+from|insert\s+into|truncate\s+table|shutdown\b|exec(?:ute)?\s+(?:master\.|xp_|sp_)|update\s+\w+\s+set\b|create\s+(?:table|user)\b|alter\s+table)` },
  { id: 'sqli-time-delay', family: 'sqli', fields: ALL,
    pattern: String.raw`(?:\b(?:and|or|select)\b|[;',(]|\|\|)\s*\(?\s*(?:sleep|pg_sleep|benchmark|dbms_pipe\.receive_message)\s*\(\s*['\d]|waitfor\s+delay\s+'` },
  { id: 'sqli-quote-comment', family: 'sqli', fields: ALL,
    pattern: String.raw`'\s*\)?\s*(?:--|/\*)` },
  { id: 'sqli-catalog', family: 'sqli', fields: ALL,
    pattern: String.raw`\b(?:information_schema|sysobjects|syscolumns|pg_catalog|sqlite_master|mysql\.user)\b|@@(?:version|datadir|hostname)\b` },
  { id: 'sqli-dangerous-function', family: 'sqli', fields: ALL,
    pattern: String.raw`\b(?:load_file|extractvalue|updatexml)\s*\(|\butl_http\.request\b|\bxp_(?:cmdshell|regread|dirtree)\b|\binto\s+(?:outfile|dumpfile)\s+'` },

  // Command injection
  { id: 'command-chained', family: 'command', fields: ALL,
    pattern: SHELL_SEP + String.raw`\s*(?:cat\s+/|ls\s+[-/]|id` + SHELL_END + String.raw`|whoami\b|uname(?:\s+-\w+)?` + SHELL_END +
      String.raw`|wget\s+\S|curl\s+\S|nc(?:at)?\s+-\w|(?:ba|z|da)?sh\s+-[ci]\b|/bin/(?:ba|z|da)?sh\b|ping\s+-[cn]\s*\d|nslookup\s+\S|sleep\s+\d+` + SHELL_END +
      String.raw`|powershell\b|cmd(?:\.exe)?\s+/c|python[23]?\s+-c|perl\s+-e|rm\s+-rf)` },
  { id: 'command-ifs', family: 'command', fields: ALL, pattern: String.raw`\$\{IFS\}|\$IFS\$\d` },
  { id: 'command-reverse-shell', family: 'command', fields: ALL,
    pattern: String.raw`/dev/tcp/\d|\bnc(?:at)?\s+(?:-\w+\s+)*\S+\s+\d+\s+-e\b|mkfifo\s+/tmp/|\bbash\s+-i\s+>&` },

  // Path traversal
  { id: 'traversal-dot-dot', family: 'path-traversal', fields: REQUEST_LINE_AND_HEADERS,
    pattern: String.raw`(?:^|[/\\=:])\.\.(?:[/\\]|$)|[/\\]\.\.%` },
  { id: 'traversal-deep', family: 'path-traversal', fields: ['body'], pattern: String.raw`(?:\.\.[/\\]){3,}` },
  { id: 'traversal-encoded', family: 'path-traversal', fields: REQUEST_LINE_AND_HEADERS,
    pattern: String.raw`(?:%2e|\.)(?:%2e|\.)(?:%2f|%5c)|%2e%2e[/\\]|%25(?:2e|2f|5c)|%c0%ae|%c0%af|%c1%9c|%e0%80%af|%u2215|%uff0e|%u002e` },
  { id: 'traversal-sensitive-file', family: 'path-traversal', fields: REQUEST_LINE_AND_HEADERS,
    pattern: String.raw`/etc/(?:passwd|shadow|group|hosts|issue)\b|/proc/self/(?:environ|cmdline|maps|fd/)|(?:\bc:|%systemroot%)[/\\]+windows[/\\]+(?:win\.ini|system32)|\bboot\.ini\b|web-inf[/\\]+web\.xml|/\.ssh/(?:id_rsa|id_ed25519|authorized_keys)|/\.aws/credentials` },

  // Server-side request forgery
  { id: 'ssrf-metadata-service', family: 'ssrf', fields: PARAMETERS,
    pattern: String.raw`169\.254\.169\.254|\b169\.254\.170\.2\b|\bmetadata\.google\.internal\b|\bmetadata\.goog\b|100\.100\.100\.200|fd00:ec2::254|instance-data(?:\.ec2\.internal)?\b|\b2852039166\b|0xa9\.?fe\.?a9\.?fe` },
  { id: 'ssrf-dangerous-scheme', family: 'ssrf', fields: PARAMETERS,
    pattern: String.raw`\b(?:file|gopher|dict|ldaps?|tftp|jar|netdoc|phar|expect)://` },
  { id: 'ssrf-loopback-url', family: 'ssrf', fields: PARAMETERS,
    pattern: String.raw`(?:^|[=:"'\s,(])(?:https?|ftp)://(?:[^/@\s]*@)?(?:localhost\b|127\.\d{1,3}\.\d{1,3}\.\d{1,3}|0\.0\.0\.0|0(?:[:/]|$)|\[::1?\]|\[0:0:0:0:0:0:0:1\]|0x7f|2130706433\b|017700000001\b|localtest\.me\b)` },

  // Server-side template / expression-language injection
  { id: 'template-double-brace', family: 'template', fields: ALL,
    pattern: String.raw`\{\{[^}]{0,40}(?:\d\s*[*+/-]\s*['"]?\d|__class__|__globals__|__builtins__|__init__|__subclasses__|__mro__|\bconfig\b|\bself\.|request\.(?:application|environ)|lipsum|cycler|joiner|\|\s*attr\b)[^}]{0,60}\}\}` },
  { id: 'template-expression-language', family: 'template', fields: ALL,
    pattern: String.raw`[$#*@]\{[^}]{0,40}(?:\d\s*[*+]\s*\d|T\s*\(\s*java|getClass|forName|Runtime|\.exec\s*\(|new\s+java|ProcessBuilder)` },
  { id: 'template-erb-freemarker', family: 'template', fields: ALL,
    pattern: String.raw`<%=?\s*(?:\d+\s*[*+]\s*\d+|system\s*\(|` + '`' + String.raw`|File\.|IO\.)|<#assign\b|freemarker\.template\.utility\.Execute|@\(\s*\d+\s*[*+]\s*\d+\s*\)` },

  // Log4Shell: JNDI lookups, plain or hidden behind nested lookups
  { id: 'log4shell-jndi', family: 'log4shell', fields: ALL, pattern: String.raw`\$\{\s*jndi\s*:` },
  { id: 'log4shell-nested-lookup', family: 'log4shell', fields: ALL, pattern: String.raw`\$\{[^}\s]{0,40}\$\{|\$\{::-` },
  { id: 'log4shell-lookup', family: 'log4shell', fields: ALL,
    pattern: String.raw`\$\{(?:lower|upper|env|sys|java|date|ctx|main|k8s|docker|bundle|base64|jvmrunargs|spring|web|log4j|sd|map|marker|event)\s*:[^}]{0,80}\}` },
];

export const INJECTION_FAMILIES: readonly InjectionFamily[] = ['sqli', 'command', 'path-traversal', 'ssrf', 'template', 'log4shell'];
