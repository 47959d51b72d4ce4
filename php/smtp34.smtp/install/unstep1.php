<?php
// The first uninstall step: keep the data (accounts, journal, logs) or delete it.
/** @var CMain $APPLICATION */
use Smtp34\Admin\I18n;

$lang = defined('LANGUAGE_ID') ? LANGUAGE_ID : 'ru';
$t = new I18n($lang === 'en' ? 'en' : 'ru');
$site = static fn (string $utf8): string => I18n::siteCharset() === null ? $utf8 : mb_convert_encoding($utf8, I18n::siteCharset(), 'UTF-8');
?>
<form action="<?= htmlspecialcharsbx($APPLICATION->GetCurPage()) ?>" method="post" id="smtp34-uninstall">
    <?= bitrix_sessid_post() ?>
    <input type="hidden" name="lang" value="<?= htmlspecialcharsbx($lang) ?>">
    <input type="hidden" name="id" value="smtp34.smtp">
    <input type="hidden" name="uninstall" value="Y">
    <input type="hidden" name="step" value="2">
    <?php CAdminMessage::ShowMessage(['MESSAGE' => $site($t->get('UNINSTALL_WARN')), 'TYPE' => 'OK']); ?>
    <p><input type="checkbox" name="savedata" id="savedata" value="Y" checked>
        <label for="savedata"><?= htmlspecialcharsbx($site($t->get('UNINSTALL_SAVE_DATA'))) ?></label></p>
    <input type="submit" name="inst" value="<?= htmlspecialcharsbx($site($t->get('UNINSTALL_BUTTON'))) ?>">
</form>
