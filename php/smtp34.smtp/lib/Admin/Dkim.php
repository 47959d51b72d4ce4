<?php
declare(strict_types=1);

namespace Smtp34\Admin;

/**
 * The DKIM page of both admins (SPEC §9): the keys with the TXT record each
 * needs, whether DNS publishes it now, adding a key (generated or imported)
 * and the domains the site sends from that no key of ours signs.
 */
final class Dkim
{
    /** A column: [label key, kind, sort key or null, standalone CSS class, shown by default] (as {@see Lists}). */
    public const COLUMNS = [
        'ID' => ['COL_ID', 'int', 'id', 'id', true],
        'DOMAIN' => ['DK_domain', 'text', 'domain', 'domain', true],
        'SELECTOR' => ['DK_selector', 'text', null, 'selector', true],
        'ALGORITHM' => ['DK_algorithm', 'text', null, 'algorithm', true],
        'ACTIVE' => ['COL_ACTIVE', 'yesno', null, 'active', true],
        'DNS_NAME' => ['DK_dns_name', 'code', null, 'dns-name', true],
        'DNS_VALUE' => ['DK_dns_value', 'code', null, 'dns-value', true],
        'DNS' => ['DK_dns', 'dns', null, 'dns', true],
    ];
    /** What the add form offers: generate a key of a kind, or import the PEM pasted below. */
    public const SOURCES = ['rsa-2048' => 'DK_GEN_rsa', 'ed25519' => 'DK_GEN_ed25519', 'import' => 'DK_IMPORT'];
    public const GROUP_ACTIONS = ['activate' => 'ACTIVATE', 'deactivate' => 'DEACTIVATE', 'delete' => 'DELETE'];
    /** DNS states: what a lookup of the key's name found. */
    public const PUBLISHED = 'published';
    public const DIFFERS = 'differs';
    public const MISSING = 'missing';
    /** How far back the page looks for the domains the site sends from. */
    public const RECENT_DAYS = 7;

    /** @return array<string, mixed> column id => value; `$dns` null: not looked up */
    public static function values(array $key, ?string $dns): array
    {
        return [
            'ID' => $key['id'], 'DOMAIN' => $key['domain'], 'SELECTOR' => $key['selector'], 'ALGORITHM' => $key['algorithm'], 'ACTIVE' => $key['active'],
            'DNS_NAME' => $key['dns_name'], 'DNS_VALUE' => $key['dns_value'], 'DNS' => $dns,
        ];
    }

    /**
     * Adds the key the form describes: domain, selector and `source` (one of
     * SOURCES; `import` takes `private_key`, a PEM).
     *
     * @return array{0: ?int, 1: ?string} the new key's id, or why it was not saved
     */
    public static function add(array $post, I18n $t): array
    {
        $source = (string) ($post['source'] ?? '');
        if (!isset(self::SOURCES[$source])) {
            return [null, $t->get('INVALID_FIELD') . ' source'];
        }
        $key = ['domain' => trim((string) ($post['domain'] ?? '')), 'selector' => trim((string) ($post['selector'] ?? '')), 'active' => true];
        $key += $source === 'import' ? ['private_key' => (string) ($post['private_key'] ?? '')] : ['generate' => $source];
        try {
            return [smtp34_dkim_save($key), null];
        } catch (\ValueError $e) {
            return [null, $t->get('INVALID_FIELD') . ' ' . $e->getMessage()];
        } catch (\Smtp34\Exception $e) {
            return [null, $e->getMessage()];
        }
    }

    /** delete, activate or deactivate the keys `$ids`. */
    public static function act(string $action, array $ids): void
    {
        foreach (array_unique(array_map('intval', $ids)) as $id) {
            match ($action) {
                'delete' => smtp34_dkim_delete($id),
                'activate' => smtp34_dkim_save(['id' => $id, 'active' => true]),
                'deactivate' => smtp34_dkim_save(['id' => $id, 'active' => false]),
                default => null,
            };
        }
    }

    /**
     * Whether DNS publishes the key: PUBLISHED when the TXT record at its
     * name carries its public key, DIFFERS when a record is there with
     * another key, MISSING when none is.
     *
     * @param ?\Closure(string): (array|false) $lookup dns_get_record($name, DNS_TXT) unless given
     */
    public static function dnsState(array $key, ?\Closure $lookup = null): string
    {
        $records = $lookup !== null ? $lookup($key['dns_name']) : @dns_get_record($key['dns_name'], DNS_TXT);
        $wanted = self::publicKey($key['dns_value']);
        $found = false;
        foreach (is_array($records) ? $records : [] as $record) {
            // PHP joins a record's strings into 'txt'; 'entries' keeps them apart
            $text = (string) ($record['txt'] ?? implode('', (array) ($record['entries'] ?? [])));
            if (!str_contains($text, 'p=')) {
                continue;
            }
            if (self::publicKey($text) === $wanted) {
                return self::PUBLISHED;
            }
            $found = true;
        }
        return $found ? self::DIFFERS : self::MISSING;
    }

    /** The p= tag of a DKIM record, its whitespace dropped (DNS tools split long values). */
    private static function publicKey(string $record): string
    {
        return preg_match('/(?:^|;)\s*p\s*=([^;]*)/', $record, $m) ? preg_replace('/\s+/', '', $m[1]) : '';
    }

    /**
     * The domains recent letters came from that no active key signs (a key
     * for the domain or a parent of it), with how many letters each sent.
     *
     * @param list<array> $rows journal rows
     * @param list<array> $keys smtp34_dkim_list()
     * @return array<string, int> domain => letters
     */
    public static function unsignedDomains(array $rows, array $keys): array
    {
        $signed = array_column(array_filter($keys, static fn ($k) => $k['active']), 'domain');
        $domains = [];
        foreach ($rows as $row) {
            if (!in_array($row['status'], ['sent', 'queued', 'sending'], true) || !preg_match('/@([^\s<>@]+?)>?$/', trim((string) $row['from']), $m)) {
                continue;
            }
            $domain = strtolower($m[1]);
            foreach ($signed as $parent) {
                if ($domain === $parent || str_ends_with($domain, '.' . $parent)) {
                    continue 2;
                }
            }
            $domains[$domain] = ($domains[$domain] ?? 0) + 1;
        }
        arsort($domains);
        return $domains;
    }

    /** The recent letters {@see unsignedDomains()} reads: the newest of RECENT_DAYS that went to an account. */
    public static function recentLetters(): array
    {
        $rows = smtp34_journal(Journal::WINDOW, 0, ['since' => time() - self::RECENT_DAYS * 86400, 'status' => ['sent', 'queued', 'sending']]);
        return array_values(array_filter($rows, static fn ($r) => $r['account_id'] !== null));
    }
}
