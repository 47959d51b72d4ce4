<?php
$arModuleVersion = ['VERSION' => '0.1.0', 'VERSION_DATE' => '2026-11-22 00:00:00'];
