<?php
declare(strict_types=1);

/**
 * php/stubs/smtp34.stub.php (for IDEs) says exactly what the loaded extension
 * has: the same functions, parameters, defaults, types and classes, each
 * with a doc comment. The stub is read by Reflection in a PHP process without
 * the extension, the extension in this one.
 */
final class StubsTest extends Smtp34TestCase
{
    private const STUB = __DIR__ . '/../../php/stubs/smtp34.stub.php';

    /** Reflection's view of functions and classes, as plain arrays. */
    private const DESCRIBE = <<<'PHP'
        function smtp34_describe(array $functions, array $classes): array {
            $type = static fn (?ReflectionType $t): string => $t === null ? 'mixed' : (string) $t;
            $out = ['functions' => [], 'classes' => []];
            foreach ($functions as $name) {
                $f = new ReflectionFunction($name);
                $params = [];
                foreach ($f->getParameters() as $p) {
                    $params[] = [
                        'name' => $p->getName(),
                        'type' => $type($p->getType()),
                        'optional' => $p->isOptional(),
                        'default' => $p->isDefaultValueAvailable() ? var_export($p->getDefaultValue(), true) : null,
                        'by_reference' => $p->isPassedByReference(),
                    ];
                }
                $out['functions'][$name] = ['parameters' => $params, 'returns' => $type($f->getReturnType()), 'doc' => $f->getDocComment() !== false];
            }
            foreach ($classes as $name) {
                $c = new ReflectionClass($name);
                $out['classes'][$name] = ['parent' => $c->getParentClass() ? $c->getParentClass()->getName() : null, 'doc' => $c->getDocComment() !== false];
            }
            return $out;
        }
        PHP;

    public function testTheStubMatchesTheLoadedExtension(): void
    {
        $extension = new ReflectionExtension('smtp34');
        $functions = array_keys($extension->getFunctions());
        $classes = array_keys($extension->getClasses());
        sort($functions);
        $this->assertContains('custom_mail', $functions);
        $this->assertSame(['Smtp34\Exception'], $classes);
        $this->assertSame([], $extension->getConstants(), 'constants would need stubs too');

        $stubbed = ChildPhp::run(self::DESCRIBE . sprintf(
            ' $before = get_defined_functions()["user"]; require %s;'
            . ' $functions = array_values(array_diff(get_defined_functions()["user"], $before, ["smtp34_describe"])); sort($functions);'
            . ' $classes = array_values(array_filter(get_declared_classes(), static fn ($c) => str_starts_with($c, "Smtp34\\\\")));'
            . ' echo json_encode(smtp34_describe($functions, $classes));',
            var_export(self::STUB, true),
        ), withExtension: false);
        $this->assertSame(0, $stubbed['code'], $stubbed['stderr']);
        $stub = json_decode($stubbed['stdout'], true);

        eval(self::DESCRIBE);
        $loaded = smtp34_describe($functions, $classes);
        $this->assertSame(array_keys($loaded['functions']), array_keys($stub['functions']), 'the same functions');
        foreach ($loaded['functions'] as $name => $real) {
            $doc = $stub['functions'][$name];
            $this->assertTrue($doc['doc'], "$name has a doc comment in the stub");
            $this->assertSame($real['returns'], $doc['returns'], "$name returns");
            $this->assertCount(count($real['parameters']), $doc['parameters'], "$name parameters");
            foreach ($real['parameters'] as $i => $parameter) {
                // the extension cannot declare a union type: it says mixed, and the stub is the narrower SPEC type
                if ($parameter['type'] === 'mixed') {
                    $this->assertSame('array|int', $doc['parameters'][$i]['type'], "$name \${$parameter['name']}: SPEC §6 says array|int");
                    $parameter['type'] = $doc['parameters'][$i]['type'];
                }
                $this->assertSame($parameter, $doc['parameters'][$i], "$name \${$parameter['name']}");
            }
        }
        foreach ($loaded['classes'] as $name => $real) {
            $this->assertSame($real['parent'], $stub['classes'][$name]['parent'], "$name extends");
            $this->assertTrue($stub['classes'][$name]['doc'], "$name has a doc comment in the stub");
        }
    }
}
