// What a user's test class path gets from cdc-local: no Mockito, and one Jackson 2 version.
def lines = new File(basedir, "resolved.txt").readLines().collect { it.trim() }.findAll { it.contains(":jar:") || it.contains(":jar") }
def mockito = lines.findAll { it.startsWith("org.mockito:") }
assert mockito.isEmpty() : "cdc-local brings Mockito onto the user's test class path: " + mockito
def jackson = lines.findAll { it.startsWith("com.fasterxml.jackson.") }
def versions = jackson.collect { it.split(":")[3].replaceAll(/^(\d+\.\d+).*/, '$1') }.unique()
assert versions.size() == 1 : "more than one Jackson 2 line on the user's test class path: " + jackson
assert lines.any { it.startsWith("com.amazonaws:DynamoDBLocal:") } : "DynamoDB Local itself is resolved: " + lines.size()
println "user test class path: " + lines.size() + " jars, Jackson 2 " + versions + ", no Mockito"
return true
