<?php
$MESS['SMTP34_TAB_RIGHTS'] = 'Доступ';
$MESS['SMTP34_TAB_RIGHTS_TITLE'] = 'Уровень доступа групп пользователей к модулю';
