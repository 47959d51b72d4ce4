<?php
declare(strict_types=1);

/** A real aiosmtpd server process (tests/smtp_server.py) on 127.0.0.1. */
final class SmtpServer
{
    use HelperProcess;

    public string $spool;

    /** @param array<string, string|bool> $options tls, cert, key, auth, reject-rcpt, silent */
    public function __construct(array $options = [])
    {
        $this->spool = sys_get_temp_dir() . '/smtp34-spool-' . bin2hex(random_bytes(6));
        $command = ['/usr/bin/python3', __DIR__ . '/../smtp_server.py', '--spool', $this->spool];
        foreach ($options as $name => $value) {
            if ($value === true) {
                $command[] = "--$name";
            } elseif ($value !== false) {
                array_push($command, "--$name", (string) $value);
            }
        }
        $this->startHelper('smtp_server.py', $command, $this->spool . '.log');
    }

    /** @return list<array{raw: string, meta: array<string, mixed>}> letters in arrival order */
    public function received(): array
    {
        $letters = [];
        for ($n = 1; is_file("{$this->spool}/$n.eml"); $n++) {
            $letters[] = [
                'raw' => (string) file_get_contents("{$this->spool}/$n.eml"),
                'meta' => json_decode((string) file_get_contents("{$this->spool}/$n.json"), true),
            ];
        }
        return $letters;
    }

    /** @return array{raw: string, meta: array<string, mixed>} */
    public function only(): array
    {
        $letters = $this->received();
        if (count($letters) !== 1) {
            throw new RuntimeException(count($letters) . ' letters received, expected exactly one');
        }
        return $letters[0];
    }
}
